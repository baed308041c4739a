// npm run bench:scheduling — two priority classes sharing one backend at ~90% of its capacity.
// A simulated Qwen3-8B/H100 engine (`--speed` times real time) behind `orla serve`, whose
// max_concurrency makes the gateway's queue the place where requests wait. Open-loop arrivals with a
// fixed seed, the same sequence under each policy:
//   high  the customer-support reply of billing/technical tickets, X-Orla-Priority 8 (30% of
//         requests), arriving one by one (Poisson)
//   low   bulk stages, priority 5 (70%), arriving as fan-outs of 8 calls at once, the way an agent
//         workflow's map step or a batch job sends them
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { percentile } from './load.js';
import { startCompiled } from './processes.js';
import { mulberry32 } from './workloads/random.js';

const SPEED = Number(process.env.SPEED ?? 10);
const SECONDS = Number(process.env.SECONDS ?? 20);
const MAX_CONCURRENCY = 8;
const LOAD = 0.9;
const POLICIES = [
  { name: 'fcfs', scheduler: { stage: 'fcfs', request: 'fcfs' } },
  { name: 'priority', scheduler: { stage: 'priority', request: 'priority' } },
  { name: 'run-fair', scheduler: { stage: 'run-fair', request: 'fcfs' } },
];

interface Job {
  at: number;
  high: boolean;
  run: string;
  outputTokens: number;
  words: number;
}


const FAN_OUT = 8;
const HIGH_SHARE = 0.3;

function jobs(ratePerS: number, seconds: number): Job[] {
  const random = mulberry32(42);
  const list: Job[] = [];
  const job = (at: number, high: boolean, run: string): Job => ({
    at, high, run, outputTokens: 32 + Math.floor(random() * 224), words: 200 + Math.floor(random() * 400),
  });
  const arrivals = (ratePerS: number, add: (at: number) => void) => {
    for (let at = 0; at < seconds * 1000; at += (-Math.log(1 - random()) / ratePerS) * 1000) add(at);
  };
  arrivals(ratePerS * HIGH_SHARE, (at) => list.push(job(at, true, `ticket-${list.length}`)));
  arrivals((ratePerS * (1 - HIGH_SHARE)) / FAN_OUT, (at) => {
    const run = `batch-${list.length}`;
    for (let i = 0; i < FAN_OUT; i++) list.push(job(at, false, run));
  });
  return list.sort((a, b) => a.at - b.at);
}

const body = (job: Pick<Job, 'outputTokens' | 'words'>, n: number) =>
  JSON.stringify({
    model: 'x',
    messages: [{ role: 'user', content: `Ticket ${n}: ${'the customer reports a double charge '.repeat(job.words / 6)}` }],
    max_tokens: job.outputTokens,
    ignore_eos: true,
    stream: true,
  });

/** Latency to the last byte, and to the first streamed chunk (time to first token). */
async function send(pool: Pool, job: Job, n: number): Promise<{ e2e: number; ttft: number }> {
  const t0 = performance.now();
  const res = await pool.request({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', 'x-orla-stage': job.high ? 'reply' : 'bulk', 'x-orla-priority': job.high ? '8' : '5', 'x-orla-workflow-run': job.run },
    body: body(job, n),
  });
  let first: number | undefined;
  for await (const _chunk of res.body) first ??= performance.now();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  const end = performance.now();
  return { e2e: end - t0, ttft: (first ?? end) - t0 };
}

const sim = await startCompiled('cli/main.ts', ['sim', '--profile', 'qwen3-8b-h100', '--speed', String(SPEED), '--port', '0'], 'simulator');
const dir = mkdtempSync(join(tmpdir(), 'orla-bench-'));

async function withGateway<T>(scheduler: object, work: (pool: Pool) => Promise<T>): Promise<T> {
  const file = join(dir, 'orla.json');
  writeFileSync(file, JSON.stringify({
    server: { log_level: 'warn' },
    backends: { heavy: { engine: 'simulator', urls: [sim.url], max_concurrency: MAX_CONCURRENCY, queue_limit: 100_000 } },
    stages: { default: { backend: 'heavy', model: 'Qwen/Qwen3-8B' } },
    scheduler,
  }));
  const orla = await startCompiled('cli/main.ts', ['serve', '--config', file, '--port', '0'], 'orla');
  const pool = new Pool(orla.url, { connections: 512 });
  try {
    return await work(pool);
  } finally {
    await pool.close();
    await orla.stop();
  }
}

// Capacity: saturate the backend (closed loop, twice its concurrency) and count completions.
const capacity = await withGateway({ stage: 'fcfs', request: 'fcfs' }, async (pool) => {
  const sample = jobs(1000, 1).slice(0, 400);
  let done = 0;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: MAX_CONCURRENCY * 2 }, async () => {
    while (next < sample.length && performance.now() - t0 < 6000) await send(pool, sample[next]!, next++).then(() => done++);
  }));
  return done / ((performance.now() - t0) / 1000);
});
const rate = capacity * LOAD;
const schedule = jobs(rate, SECONDS);
process.stderr.write(`capacity ≈ ${capacity.toFixed(1)} req/s at speed ${SPEED}; offering ${rate.toFixed(1)} req/s, ${schedule.length} requests\n`);

const rows: string[] = [];
const results: Record<string, { highP50: number; highTtftP50: number; throughput: number }> = {};
for (const policy of POLICIES) {
  const measured = await withGateway(policy.scheduler, async (pool) => {
    const latencies = { high: [] as { e2e: number; ttft: number }[], low: [] as { e2e: number; ttft: number }[] };
    let errors = 0;
    const t0 = performance.now();
    await Promise.all(schedule.map(async (job, n) => {
      const wait = job.at - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        (job.high ? latencies.high : latencies.low).push(await send(pool, job, n));
      } catch {
        errors++;
      }
    }));
    return { latencies, errors, seconds: (performance.now() - t0) / 1000 };
  });
  // Times are simulated: multiply by the speed-up to read them as real engine time.
  const real = (ms: number) => ((ms * SPEED) / 1000).toFixed(2);
  const { high, low } = measured.latencies;
  const e2e = (list: { e2e: number }[]) => list.map((l) => l.e2e);
  const ttft = (list: { ttft: number }[]) => list.map((l) => l.ttft);
  const throughput = (high.length + low.length) / measured.seconds;
  results[policy.name] = { highP50: percentile(e2e(high), 50), highTtftP50: percentile(ttft(high), 50), throughput };
  rows.push(
    `| ${policy.name} | ${real(percentile(e2e(high), 50))} | ${real(percentile(e2e(high), 99))} | ${real(percentile(ttft(high), 50))} | ${real(percentile(ttft(high), 99))} | ` +
      `${real(percentile(e2e(low), 50))} | ${real(percentile(e2e(low), 99))} | ${real(percentile(ttft(low), 50))} | ${(throughput / SPEED).toFixed(2)} | ${measured.errors} |`,
  );
}
await sim.stop();

const fcfs = results.fcfs!;
const priority = results.priority!;
process.stdout.write(
  [
    `Load ${(LOAD * 100).toFixed(0)}% of capacity (${(capacity / SPEED).toFixed(2)} req/s in engine time), max_concurrency ${MAX_CONCURRENCY}, ${schedule.length} requests, engine at ${SPEED}x; seconds in engine time.`,
    '',
    '| policy | high p50 s | high p99 s | high TTFT p50 s | high TTFT p99 s | low p50 s | low p99 s | low TTFT p50 s | throughput req/s | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `High class, fcfs ÷ priority: p50 latency ${(fcfs.highP50 / priority.highP50).toFixed(2)}x, p50 TTFT ${(fcfs.highTtftP50 / priority.highTtftP50).toFixed(2)}x; throughput priority ÷ fcfs: ${((priority.throughput / fcfs.throughput) * 100).toFixed(1)}%.`,
    '',
  ].join('\n'),
);
