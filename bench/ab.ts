// npm run bench:ab -- <git-ref> [--stream] [--rounds 4] [--starts 3]: the gateway's CPU per request
// and throughput at an earlier commit (A, checked out as a git worktree under .ab/) against the
// working tree (B), both in front of one `instant` simulator, in interleaved rounds. CPU per request
// (from /proc) is the steadiest number on a shared machine: measure a hot-path change with this
// before and after. Both gateways are started afresh `--starts` times, `--rounds` rounds each
// start: where the kernel places a process and what V8 makes of its code last for the process's
// life, and one start of each read anywhere in 1.00-1.27x for the same two builds.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './load.js';
import { cpuMs, ROOT, startCompiled } from './processes.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    stream: { type: 'boolean', default: false },
    connections: { type: 'string', default: '50' },
    requests: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '4' },
    starts: { type: 'string', default: '3' },
  },
});
const ref = positionals[0];
if (!ref) {
  console.error('usage: npm run bench:ab -- <git-ref> [--stream] [--connections 50] [--requests 3000] [--rounds 4] [--starts 3]');
  process.exit(2);
}
const git = (...a: string[]) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
const sha = git('rev-parse', '--short', ref);
const tree = join('.ab', sha);
if (!existsSync(join(ROOT, tree))) git('worktree', 'add', '--detach', tree, sha);

const sim = await startCompiled('cli/main.ts', ['sim', '--profile', 'instant', '--port', '0'], 'simulator');
const config = join(mkdtempSync(join(tmpdir(), 'orla-ab-')), 'orla.yaml');
writeFileSync(config, `server: { log_level: warn }\nbackends:\n  sim: { engine: simulator, urls: [${sim.url}] }\nstages:\n  default: { backend: sim }\n`);
const startBoth = async () => ({
  [`A ${sha}`]: await startCompiled('cli/main.ts', ['serve', '--config', config, '--port', '0'], `orla at ${sha}`, join(ROOT, tree)),
  'B working tree': await startCompiled('cli/main.ts', ['serve', '--config', config, '--port', '0'], 'orla'),
});

const messages = [{ role: 'user', content: 'Summarise the ticket: my card was charged twice for one order.' }];
const body = JSON.stringify(
  args.stream ? { model: 'sim-instant', messages, max_tokens: 50, ignore_eos: true, stream: true } : { model: 'sim-instant', messages, max_tokens: 16 },
);
const connections = Number(args.connections);
const requests = Number(args.requests);
const names = [`A ${sha}`, 'B working tree'];
const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const rps: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
const starts = Number(args.starts);
const rounds = Number(args.rounds);
for (let start = 0; start < starts; start++) {
  const gateways = await startBoth();
  for (const g of Object.values(gateways)) await runLoad(`${g.url}/v1/chat/completions`, body, connections, requests); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const name of (round + start) % 2 ? [...names].reverse() : names) {
      const g = gateways[name]!;
      const before = cpuMs(g.child.pid!);
      const r = await runLoad(`${g.url}/v1/chat/completions`, body, connections, requests);
      cpu[name]!.push(((cpuMs(g.child.pid!) - before) * 1000) / r.requests);
      rps[name]!.push(r.requests / r.seconds);
    }
  }
  await Promise.all(Object.values(gateways).map((p) => p.stop()));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${args.stream ? 'streaming 50 chunks' : 'non-streaming'}, ${connections} connections, ${starts} starts × ${rounds} interleaved rounds of ${requests} requests (medians):`);
for (const name of names) console.log(`  ${name.padEnd(16)} ${median(cpu[name]!).toFixed(0).padStart(5)} µs CPU per request  ${median(rps[name]!).toFixed(0).padStart(6)} req/s`);
const [a, b] = names as [string, string];
console.log(`  B ÷ A: CPU per request ${(median(cpu[b]!) / median(cpu[a]!)).toFixed(3)}, req/s ${(median(rps[b]!) / median(rps[a]!)).toFixed(3)}`);
await sim.stop();
console.log(`(the worktree stays in ${tree}; \`git worktree remove ${tree}\` frees it)`);
