// npm run bench:affinity — replica affinity across one backend's replicas. Four simulated Qwen3-8B/H100
// engines (`orla sim`, child processes) serve one backend, at half real time by default (`--speed
// 0.5`: 200 streams at once are more than 2 cores relay in real time, and slower engines keep the
// client's clock honest). 200 multi-stage agent runs start at once (bench/workloads/agent-runs.ts: a
// shared system prompt, a 1–2k-token document per run, then plan → research → draft → review as one
// growing conversation, a tool wait between stages, 64 output tokens per stage). Two placements:
//   affinity     Orla as configured by default: a run's calls go to the replica that holds its prefix,
//                with bounded load (memory.affinity_load_factor 1.5)
//   round robin  no affinity. Until the gateway has a switch for it, Orla is given one URL, a small
//                round-robin proxy (bench/workloads/round-robin-proxy.ts) in front of the same four
//                engines that sends each request to the next replica in turn (max_concurrency ×4 so
//                the gateway's limits match). If the config schema accepts `memory.affinity: false`,
//                that switch is used instead (`--baseline switch`; Orla then picks the least loaded
//                replica for every call).
// Both use memory.policy flush-per-workflow (the default). Fresh engines for every measurement, so no
// mode inherits the other's cache; modes alternate over rounds. Measured: prefix-cache hit rate
// (Σ cached_tokens ÷ Σ prompt_tokens from the responses' usage, and the engines' own counters),
// TTFT (client, first content chunk, × speed = engine ms), and load spread (requests and prompt
// tokens per replica, from each engine's /metrics).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { validateConfig } from '../config/load.js';
import { percentile } from './load.js';
import { startCompiled, type Started } from './processes.js';
import { buildAgentRuns, STAGES, stageMessages, type AgentRun } from './workloads/agent-runs.js';
import { counterDelta, engineCounters, type EngineCounters } from './workloads/metrics.js';
import { streamChat } from './workloads/stream.js';

const { values: args } = parseArgs({
  options: {
    speed: { type: 'string', default: '0.5' },
    runs: { type: 'string', default: '200' },
    stages: { type: 'string', default: '4' },
    replicas: { type: 'string', default: '4' },
    'output-tokens': { type: 'string', default: '64' },
    rounds: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    /** auto: the config switch when the schema has it, else the round-robin proxy. */
    baseline: { type: 'string', default: 'auto' },
  },
});
const SPEED = Number(args.speed);
const RUNS = Number(args.runs);
const STAGE_COUNT = Number(args.stages);
const REPLICAS = Number(args.replicas);
const OUTPUT_TOKENS = Number(args['output-tokens']);
const ROUNDS = Number(args.rounds);
const SEED = Number(args.seed);
const MODEL = 'Qwen/Qwen3-8B';
const MAX_CONCURRENCY = 64; // per replica, the default
if (STAGE_COUNT < 2 || STAGE_COUNT > STAGES.length) throw new Error(`--stages: 2..${STAGES.length}`);

const switchAvailable = (() => {
  try {
    validateConfig({ backends: { b: { engine: 'simulator', urls: ['http://127.0.0.1:1'] } }, memory: { affinity: false } });
    return true;
  } catch {
    return false;
  }
})();
const baseline = args.baseline === 'auto' ? (switchAvailable ? 'switch' : 'proxy') : args.baseline;
if (baseline !== 'proxy' && baseline !== 'switch') throw new Error('--baseline: auto, proxy or switch');
if (baseline === 'switch' && !switchAvailable) throw new Error('--baseline switch: the config schema has no memory.affinity key yet');

type Mode = 'affinity' | 'round-robin';
const LABELS: Record<Mode, string> = {
  affinity: 'Orla affinity (bounded load 1.5)',
  'round-robin': baseline === 'proxy' ? 'round robin (proxy in front of the replicas)' : 'no affinity (memory.affinity: false, least loaded)',
};

interface CallRecord {
  stage: number;
  ttftMs: number;
  promptTokens: number;
  cachedTokens: number;
  placement: string;
}

interface Measured {
  mode: Mode;
  calls: CallRecord[];
  errors: number;
  firstError?: string;
  makespanS: number;
  perReplica: EngineCounters[];
}

const dir = mkdtempSync(join(tmpdir(), 'orla-bench-affinity-'));
const workload = buildAgentRuns({ seed: SEED, runs: RUNS, stages: STAGE_COUNT, minTokens: 1000, maxTokens: 2000, minToolMs: 100, maxToolMs: 1000 });
const sleepEngine = (ms: number) => new Promise((r) => setTimeout(r, ms / SPEED));

async function runOne(pool: Pool, mode: Mode, round: number, run: AgentRun, out: Measured): Promise<void> {
  const answers: string[] = [];
  const id = `${mode}-${round}-${run.id}`;
  for (let stage = 0; stage < STAGE_COUNT; stage++) {
    const last = stage === STAGE_COUNT - 1;
    const headers: Record<string, string> = { 'x-orla-workflow-run': id, 'x-orla-stage': STAGES[stage]! };
    if (last) headers['x-orla-workflow-done'] = 'true';
    const res = await streamChat(
      pool,
      { model: MODEL, messages: stageMessages(run, stage, answers), max_tokens: OUTPUT_TOKENS, ignore_eos: true, temperature: 0 },
      headers,
      true,
    ).catch((err: Error) => ({ status: 0, error: err.message }) as const);
    if (res.status !== 200 || res.error || !('text' in res)) {
      out.errors++;
      out.firstError ??= res.error ?? `status ${res.status}`;
      return;
    }
    answers.push(res.text);
    out.calls.push({
      stage,
      ttftMs: res.ttftMs * SPEED,
      promptTokens: res.promptTokens,
      cachedTokens: res.cachedTokens,
      placement: /replica=(\w+)/.exec(res.cache ?? '')?.[1] ?? 'none',
    });
    if (!last) await sleepEngine(run.toolWaitsMs[stage]!);
  }
}

async function measure(mode: Mode, round: number): Promise<Measured> {
  const engines: Started[] = await Promise.all(
    Array.from({ length: REPLICAS }, (_, i) =>
      startCompiled('cli/main.ts', ['sim', '--profile', 'qwen3-8b-h100', '--speed', String(SPEED), '--port', '0'], `engine ${i}`)),
  );
  const proxy = mode === 'round-robin' && baseline === 'proxy'
    ? await startCompiled('bench/workloads/round-robin-proxy.ts', ['0', ...engines.map((e) => e.url)], 'round-robin proxy')
    : undefined;
  const file = join(dir, `${mode}-${round}.json`);
  writeFileSync(file, JSON.stringify({
    server: { log_level: 'warn' },
    backends: {
      pool: {
        engine: 'simulator',
        urls: proxy ? [proxy.url] : engines.map((e) => e.url),
        max_concurrency: proxy ? MAX_CONCURRENCY * REPLICAS : MAX_CONCURRENCY,
        queue_limit: 100_000,
      },
    },
    stages: { default: { backend: 'pool', model: MODEL, params: { temperature: 0 } } },
    memory: {
      policy: 'flush-per-workflow',
      idle_ttl_s: 600 / SPEED,
      pressure: { interval_ms: Math.max(1, Math.round(2_000 / SPEED)) },
      ...(mode === 'round-robin' && baseline === 'switch' ? { affinity: false } : {}),
    },
  }));
  const orla = await startCompiled('cli/main.ts', ['serve', '--config', file, '--port', '0'], 'orla');
  const pool = new Pool(orla.url, { connections: RUNS + 16, keepAliveTimeout: 60_000 });
  const out: Measured = { mode, calls: [], errors: 0, makespanS: 0, perReplica: [] };
  try {
    const before = await Promise.all(engines.map((e) => engineCounters(e.url)));
    const t0 = performance.now();
    await Promise.all(workload.map((run) => runOne(pool, mode, round, run, out)));
    out.makespanS = ((performance.now() - t0) * SPEED) / 1000;
    const after = await Promise.all(engines.map((e) => engineCounters(e.url)));
    out.perReplica = after.map((a, i) => counterDelta(a, before[i]!));
  } finally {
    await pool.close();
    await orla.stop();
    await proxy?.stop();
    await Promise.all(engines.map((e) => e.stop()));
  }
  return out;
}

process.stderr.write(
  `${RUNS} runs × ${STAGE_COUNT} stages on ${REPLICAS} replicas at ${SPEED}x; baseline: ${LABELS['round-robin']}\n`,
);
const results: Measured[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const order: Mode[] = round % 2 === 0 ? ['affinity', 'round-robin'] : ['round-robin', 'affinity'];
  for (const mode of order) {
    const t0 = performance.now();
    const m = await measure(mode, round);
    results.push(m);
    process.stderr.write(`  round ${round + 1} ${mode}: ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${m.calls.length} calls, ${m.errors} errors${m.firstError ? ` (first: ${m.firstError})` : ''}\n`);
  }
}

const fmt = (ms: number) => ms.toFixed(1);
const rows: string[] = [];
const spreadRows: string[] = [];
const summary = new Map<Mode, { hit: number; p50: number; later50: number }>();
for (const mode of ['affinity', 'round-robin'] as Mode[]) {
  const mine = results.filter((r) => r.mode === mode);
  const calls = mine.flatMap((r) => r.calls);
  const later = calls.filter((c) => c.stage > 0);
  const sum = (list: CallRecord[], key: 'promptTokens' | 'cachedTokens') => list.reduce((n, c) => n + c[key], 0);
  const hit = sum(calls, 'cachedTokens') / sum(calls, 'promptTokens');
  const laterHit = sum(later, 'cachedTokens') / sum(later, 'promptTokens');
  const engineHit = mine.reduce((n, r) => n + r.perReplica.reduce((m, e) => m + e.prefixHits, 0), 0) /
    mine.reduce((n, r) => n + r.perReplica.reduce((m, e) => m + e.prefixQueries, 0), 0);
  const ttft = calls.map((c) => c.ttftMs);
  const laterTtft = later.map((c) => c.ttftMs);
  const engineTtft = (mine.reduce((n, r) => n + r.perReplica.reduce((m, e) => m + e.ttftSecondsSum, 0), 0) /
    mine.reduce((n, r) => n + r.perReplica.reduce((m, e) => m + e.requests, 0), 0)) * 1000;
  const placements = new Map<string, number>();
  for (const c of later) placements.set(c.placement, (placements.get(c.placement) ?? 0) + 1);
  const placement = mode === 'affinity' ? [...placements].map(([k, v]) => `${k} ${((v / later.length) * 100).toFixed(0)}%`).join(', ') : '–';
  const makespan = mine.reduce((n, r) => n + r.makespanS, 0) / mine.length;
  const errors = mine.reduce((n, r) => n + r.errors, 0);
  summary.set(mode, { hit, p50: percentile(ttft, 50), later50: percentile(laterTtft, 50) });
  rows.push(
    `| ${LABELS[mode]} | ${(hit * 100).toFixed(1)}% | ${(laterHit * 100).toFixed(1)}% | ${(engineHit * 100).toFixed(1)}% | ` +
      `${fmt(percentile(ttft, 50))} | ${fmt(percentile(ttft, 99))} | ${fmt(percentile(laterTtft, 50))} | ${fmt(percentile(laterTtft, 99))} | ${fmt(ttft.reduce((a, b) => a + b, 0) / ttft.length)} / ${fmt(engineTtft)} | ${makespan.toFixed(1)} | ${placement} | ${errors} |`,
  );
  // Load spread per measurement (round), from each engine's counters.
  for (const [i, r] of mine.entries()) {
    const requests = r.perReplica.map((e) => e.requests);
    const prompt = r.perReplica.map((e) => e.promptTokens);
    const computed = r.perReplica.map((e) => e.prefixQueries - e.prefixHits);
    const ratio = (v: number[]) => (Math.max(...v) / Math.max(1, Math.min(...v))).toFixed(2);
    spreadRows.push(
      `| ${LABELS[mode]}${mine.length > 1 ? ` (round ${i + 1})` : ''} | ${requests.join(' / ')} | ${ratio(requests)} | ` +
        `${prompt.map((p) => `${(p / 1000).toFixed(0)}k`).join(' / ')} | ${computed.map((p) => `${(p / 1000).toFixed(0)}k`).join(' / ')} | ${ratio(computed)} |`,
    );
  }
}

const aff = summary.get('affinity')!;
const rr = summary.get('round-robin')!;
process.stdout.write(
  [
    `${RUNS} concurrent runs × ${STAGE_COUNT} stages (${STAGES.slice(0, STAGE_COUNT).join(' → ')}), one growing conversation per run: shared system prompt, ` +
      `a 1–2k-token document, ${OUTPUT_TOKENS} output tokens per stage, tool waits 0.1–1 s between stages; ${REPLICAS} simulated Qwen3-8B/H100 replicas at ${SPEED}x, ` +
      `max_concurrency ${MAX_CONCURRENCY} per replica, memory.policy flush-per-workflow; ${ROUNDS} round(s), modes alternating, fresh engines each time; times in engine time.`,
    '',
    '| placement | hit rate (all calls) | hit rate (stages 2+) | engines\' hit rate | TTFT p50 ms | TTFT p99 ms | stages 2+ TTFT p50 ms | stages 2+ TTFT p99 ms | TTFT mean ms (client / engine-side) | makespan s | X-Orla-Cache replica (stages 2+) | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Load spread, from the engines\' /metrics:',
    '',
    '| placement | requests per replica | max ÷ min | prompt tokens per replica | prefilled (uncached) tokens per replica | max ÷ min |',
    '| --- | --- | --- | --- | --- | --- |',
    ...spreadRows,
    '',
    `Hit rate ${(rr.hit * 100).toFixed(1)}% → ${(aff.hit * 100).toFixed(1)}%; TTFT p50 ${fmt(rr.p50)} → ${fmt(aff.p50)} ms (${(rr.p50 / aff.p50).toFixed(2)}x), stages 2+ ${fmt(rr.later50)} → ${fmt(aff.later50)} ms (${(rr.later50 / aff.later50).toFixed(2)}x).`,
    '',
  ].join('\n'),
);
