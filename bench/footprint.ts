// npm run bench:footprint — the gateway's resident memory as a new user would load it: the compiled
// gateway (`orla serve`, with the Node flags `npm start` gives it) in front of an `instant`
// simulator, 10,000 live workflow runs of two calls each, then 1,000 streams held open by an engine
// that stalls after its first chunk. RSS is read from /proc at start, after the runs, and with the
// streams open.
//   --tracing   the same with OpenTelemetry tracing on (sample_ratio 1.0), exporting to a sink
//               collector in this process that accepts and discards every batch
//   --plain-node  without `npm start`'s Node flags (as `npx orla serve` runs it)
//   --runs N --streams N --concurrency N   change the load (defaults 10000, 1000, 32)
//   --settle S  read RSS S seconds after each phase (default 3)
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, Pool, request } from 'undici';
import { ROOT, startCompiled, startFlags } from './processes.js';
import { startSinkCollector } from './sink-collector.js';

const { values: args } = parseArgs({
  options: {
    tracing: { type: 'boolean', default: false },
    'plain-node': { type: 'boolean', default: false },
    runs: { type: 'string', default: '10000' },
    streams: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    settle: { type: 'string', default: '3' },
  },
});
const RUNS = Number(args.runs);
const STREAMS = Number(args.streams);
const CONCURRENCY = Number(args.concurrency);
const SETTLE = Number(args.settle);

/** Resident set size of a process, in MB (VmRSS from /proc, Linux). */
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

/**
 * Waits for the gateway's memory to settle (timers, lazy GC): RSS read once a second for SETTLE
 * seconds, the last kept. V8's memory reducer gives some back 15-30 s after a load stops, and the
 * next collections take some again: `--settle 40` reads an idle gateway, not a lower one.
 */
async function settledRss(pid: number): Promise<number> {
  let rss = 0;
  for (let i = 0; i < SETTLE; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    rss = rssMb(pid);
  }
  return rss;
}

/**
 * An engine that answers a stream's head and first chunk, then holds it open until closed. Anything
 * else (Orla's cache calls: vLLM's /reset_prefix_cache) gets a 404, as from a vLLM not in dev mode.
 */
async function startStallingEngine() {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    req.resume();
    if (req.url !== '/v1/chat/completions') return void res.writeHead(404).end();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'stall', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' } }] })}\n\n`);
      open.add(res);
      res.on('close', () => open.delete(res));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const sim = await startCompiled('cli/main.ts', ['sim', '--profile', 'instant', '--port', '0'], 'simulator');
const stalling = await startStallingEngine();
const collector = args.tracing ? await startSinkCollector() : undefined;
const configFile = join(mkdtempSync(join(tmpdir(), 'orla-footprint-')), 'orla.yaml');
writeFileSync(
  configFile,
  [
    'server: { log_level: warn }',
    'backends:',
    `  sim: { engine: simulator, urls: [${sim.url}] }`,
    // Every stream holds a slot while it stalls: room for all of them, and no idle timeout meanwhile.
    `  stall: { engine: vllm, urls: [${stalling.url}], max_concurrency: ${STREAMS + 64}, timeouts: { idle_ms: 600000 } }`,
    'stages:',
    '  plan: { backend: sim, model: sim-instant }',
    '  answer: { backend: sim, model: sim-instant }',
    '  hold: { backend: stall, model: stall }',
    '  default: { backend: sim, model: sim-instant }',
    ...(collector ? ['telemetry:', `  traces: { otlp_endpoint: "${collector.url}", sample_ratio: 1.0 }`] : []),
    '',
  ].join('\n'),
);
const nodeFlags = args['plain-node'] ? [] : startFlags();
const gateway = await startCompiled('cli/main.ts', ['serve', '--config', configFile, '--port', '0'], 'orla', ROOT, nodeFlags);
const pid = gateway.child.pid!;
const origin = new URL(gateway.url).origin;

try {
  const atStart = await settledRss(pid);

  // Two calls per run, as an agent makes them: the first stage, then the next with the answer appended.
  const pool = new Pool(origin, { connections: CONCURRENCY });
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const call = async (run: string, stage: string, messages: unknown[]) => {
    const res = await pool.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': stage },
      body: JSON.stringify({ model: 'any', messages, max_tokens: 16 }),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) failed++;
    return text;
  };
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < RUNS) {
        const run = `run-${next++}`;
        const messages: unknown[] = [
          { role: 'system', content: 'You are a support agent. Classify the ticket, then answer it.' },
          { role: 'user', content: `Ticket ${run}: my card was charged twice for one order.` },
        ];
        const first = JSON.parse(await call(run, 'plan', messages)) as { choices?: { message?: unknown }[] };
        messages.push(first.choices?.[0]?.message ?? { role: 'assistant', content: '' }, { role: 'user', content: 'Now draft the reply.' });
        await call(run, 'answer', messages);
      }
    }),
  );
  await pool.close();
  const runSeconds = (performance.now() - started) / 1000;
  const afterRuns = await settledRss(pid);

  // Streams: each held open by the stalling engine once its first chunk has reached the client.
  const agent = new Agent({ connections: STREAMS + 16, pipelining: 0 });
  const bodies: { destroy(): void }[] = [];
  let firstChunks = 0;
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const res = await request(`${origin}/v1/chat/completions`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-orla-workflow-run': `stream-${i}`, 'x-orla-stage': 'hold' },
        body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: `Stream ${i}: tell me a long story.` }], stream: true }),
      });
      if (res.statusCode !== 200) failed++;
      bodies.push(res.body);
      await new Promise<void>((resolve) => res.body.once('data', () => resolve()));
      firstChunks++;
    }),
  );
  const withStreams = await settledRss(pid);
  if (stalling.open.size !== STREAMS || firstChunks !== STREAMS) throw new Error(`expected ${STREAMS} open streams, engine holds ${stalling.open.size}, clients read ${firstChunks}`);

  const mb = (n: number) => n.toFixed(0);
  const workflows = (await (await fetch(`${gateway.url}/v1/workflows`)).json()) as { data: unknown[] };
  process.stdout.write(
    [
      `Node ${process.version}${nodeFlags.length ? ` ${nodeFlags.join(' ')}` : ''}, tracing ${args.tracing ? `on (sample_ratio 1.0, ${collector!.batches} batches exported)` : 'off'}; ${RUNS} runs × 2 calls in ${runSeconds.toFixed(1)} s (${CONCURRENCY} connections), ${STREAMS} streams held open; RSS read ${SETTLE} s after each phase; ${failed} failed; /v1/workflows lists ${workflows.data.length} recent runs.`,
      '',
      '| tracing | RSS at start MB | after the runs MB | with the streams MB |',
      '| --- | --- | --- | --- |',
      `| ${args.tracing ? 'on' : 'off'} | ${mb(atStart)} | ${mb(afterRuns)} | ${mb(withStreams)} |`,
      '',
    ].join('\n'),
  );
  for (const body of bodies) body.destroy();
  await agent.close().catch(() => undefined);
} finally {
  await gateway.stop();
  await sim.stop();
  await stalling.close();
  await collector?.close();
}
