// npm run bench:fleet — what sharing state through Redis costs a request. Three paths to one
// `instant` simulator, measured in one run, interleaved round by round:
//   direct   the simulator itself
//   memory   one `orla serve` on the in-memory run store (the default)
//   redis-1  one `orla serve` on Redis (state.store: redis): what the store alone costs
//   redis    two `orla serve` on one Redis, each request to the next gateway in turn, as a
//            round-robin balancer without stickiness sends them
// Every request belongs to a workflow run (X-Orla-Workflow-Run; four calls a run), so each makes
// its run-state operations: one on the way in, one on the way out. "gateway CPU" is the gateways'
// own CPU per request (both of them for redis), "redis CPU" the Redis server's, from /proc.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REDIS_INSTALLED, REDIS_MISSING, startRedis } from '../test/helpers/redis.js';
import { median, percentile, runLoad, type LoadResult } from './load.js';
import { cpuMs, startCompiled, type Started } from './processes.js';

const EPOCHS = Number(process.env.EPOCHS ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 8); // per epoch
const WARM_UP = Number(process.env.WARM_UP ?? 3000);
const CALLS_PER_RUN = 4;
const messages = [{ role: 'user', content: 'Summarise the ticket: my card was charged twice for one order.' }];
const SCENARIOS = [
  { name: 'non-streaming', connections: 1, requests: 400, body: { model: 'sim-instant', messages, max_tokens: 16 } },
  { name: 'non-streaming', connections: 50, requests: 1000, body: { model: 'sim-instant', messages, max_tokens: 16 } },
  { name: 'streaming 50 chunks', connections: 1, requests: 250, body: { model: 'sim-instant', messages, max_tokens: 50, ignore_eos: true, stream: true } },
];
const only = process.env.ONLY === undefined ? undefined : Number(process.env.ONLY);
const scenarios = SCENARIOS.filter((_, i) => only === undefined || i === only);

const NAMES = ['direct', 'memory', 'redis-1', 'redis'] as const;
type Name = (typeof NAMES)[number];
const results = scenarios.map(() => ({
  rounds: { direct: [], memory: [], 'redis-1': [], redis: [] } as Record<Name, LoadResult[]>,
  cpu: { direct: 0, memory: 0, 'redis-1': 0, redis: 0 } as Record<Name, number>,
  redisCpu: { 'redis-1': 0, redis: 0 } as Record<string, number>,
}));
if (!REDIS_INSTALLED) throw new Error(`bench:fleet needs ${REDIS_MISSING.split(':')[0]}`);
const dir = mkdtempSync(join(tmpdir(), 'orla-bench-fleet-'));
let runs = 0;

/** A closed loop of `connections` workers over `urls`, each request to the next URL in turn, each tagged with its run. */
function load(urls: string[], body: unknown, connections: number, requests: number): Promise<LoadResult> {
  const runOfWorker = () => {
    let run = `bench-${runs++}`;
    let calls = 0;
    return () => {
      if (calls++ === CALLS_PER_RUN) [run, calls] = [`bench-${runs++}`, 1];
      return { 'x-orla-workflow-run': run };
    };
  };
  return runLoad(urls.map((url) => `${url}/v1/chat/completions`), JSON.stringify(body), connections, requests, runOfWorker);
}

const gatewayConfig = (simUrl: string, state: string) =>
  `server: { log_level: warn }\n${state}backends:\n  sim: { engine: simulator, urls: [${simUrl}] }\nstages:\n  default: { backend: sim }\nmemory: { pressure: { interval_ms: 0 } }\n`;

for (let epoch = 0; epoch < EPOCHS; epoch++) {
  const sim = await startCompiled('cli/main.ts', ['sim', '--profile', 'instant', '--port', '0'], 'simulator');
  const redis = await startRedis();
  const memoryFile = join(dir, `memory-${epoch}.yaml`);
  const redisFile = join(dir, `redis-${epoch}.yaml`);
  writeFileSync(memoryFile, gatewayConfig(sim.url, ''));
  writeFileSync(redisFile, gatewayConfig(sim.url, `state: { store: redis, url: "${redis.url}", key_prefix: "bench${epoch}:" }\n`));
  // The lone gateway has a fleet of its own (another prefix), so the pair's limits are theirs alone.
  const aloneFile = join(dir, `redis-alone-${epoch}.yaml`);
  writeFileSync(aloneFile, gatewayConfig(sim.url, `state: { store: redis, url: "${redis.url}", key_prefix: "alone${epoch}:" }\n`));
  const memory = await startCompiled('cli/main.ts', ['serve', '--config', memoryFile, '--port', '0'], 'orla (memory)');
  const alone = await startCompiled('cli/main.ts', ['serve', '--config', aloneFile, '--port', '0'], 'orla (redis, alone)');
  const fleet: Started[] = [];
  for (let i = 0; i < 2; i++) fleet.push(await startCompiled('cli/main.ts', ['serve', '--config', redisFile, '--port', '0'], `orla (redis ${i})`));
  const targets: Record<Name, { urls: string[]; pids: number[] }> = {
    direct: { urls: [sim.url], pids: [] },
    memory: { urls: [memory.url], pids: [memory.child.pid!] },
    'redis-1': { urls: [alone.url], pids: [alone.child.pid!] },
    redis: { urls: fleet.map((g) => g.url), pids: fleet.map((g) => g.child.pid!) },
  };
  const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  try {
    for (const scenario of [SCENARIOS[0]!, SCENARIOS[2]!]) for (const name of NAMES) await load(targets[name].urls, scenario.body, 4, WARM_UP);
    for (const [i, scenario] of scenarios.entries()) {
      const entry = results[i]!;
      for (const name of NAMES) await load(targets[name].urls, scenario.body, scenario.connections, 200);
      for (let round = 0; round < ROUNDS; round++) {
        for (const name of [...NAMES].sort(() => Math.random() - 0.5)) {
          const { urls, pids } = targets[name];
          const before = cpuOf(pids);
          const onRedis = name === 'redis' || name === 'redis-1';
          const redisBefore = onRedis ? cpuMs(redis.pid()!) : 0;
          entry.rounds[name].push(await load(urls, scenario.body, scenario.connections, scenario.requests));
          entry.cpu[name] += cpuOf(pids) - before;
          if (onRedis) entry.redisCpu[name] = (entry.redisCpu[name] ?? 0) + cpuMs(redis.pid()!) - redisBefore;
        }
      }
    }
  } finally {
    await Promise.all([memory.stop(), alone.stop(), ...fleet.map((g) => g.stop()), sim.stop()]);
    await redis.close();
  }
}

const rows: string[] = [];
for (const [i, scenario] of scenarios.entries()) {
  const { rounds, cpu, redisCpu } = results[i]!;
  const requestsOf = (name: Name) => rounds[name].reduce((n, r) => n + r.requests, 0);
  const stats = Object.fromEntries(
    NAMES.map((name) => {
      const all = rounds[name];
      const latencies = all.flatMap((r) => r.latenciesMs);
      return [name, {
        rps: median(all.map((r) => r.requests / r.seconds)),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        errors: all.reduce((n, r) => n + r.errors, 0),
        cpu: (cpu[name] * 1000) / requestsOf(name),
      }];
    }),
  ) as Record<Name, { rps: number; p50: number; p99: number; errors: number; cpu: number }>;
  const added = (name: Name) => stats[name].p50 - stats.direct.p50;
  for (const name of NAMES) {
    const s = stats[name];
    const redisColumn = name in redisCpu ? ((redisCpu[name]! * 1000) / requestsOf(name)).toFixed(0) : '–';
    rows.push(
      `| ${scenario.name} | ${scenario.connections} | ${name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${name === 'direct' ? '–' : added(name).toFixed(2)} | ${name === 'direct' ? '–' : s.cpu.toFixed(0)} | ${redisColumn} | ${s.errors} |`,
    );
  }
  const signed = (n: number, digits: number) => `${n >= 0 ? '+' : ''}${n.toFixed(digits)}`;
  for (const name of ['redis-1', 'redis'] as const) {
    const deltaMs = added(name) - added('memory');
    const deltaCpu = stats[name].cpu - stats.memory.cpu;
    rows.push(`| | | **${name} − memory** | | | | **${signed(deltaMs, 2)}** | **${signed(deltaCpu, 0)}** | | |`);
    process.stderr.write(`${scenario.name} @${scenario.connections}: ${name} adds ${deltaMs.toFixed(3)} ms p50 and ${deltaCpu.toFixed(0)} µs gateway CPU per request over memory\n`);
  }
}

process.stdout.write(
  [
    `${EPOCHS} starts of every process × ${ROUNDS} interleaved rounds; every request in a run of ${CALLS_PER_RUN} calls; latency in ms (p50/p99 over all rounds), throughput the median round's.`,
    '',
    '| scenario | connections | path | req/s | p50 ms | p99 ms | added p50 ms | gateway CPU µs/req | redis CPU µs/req | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'),
);
