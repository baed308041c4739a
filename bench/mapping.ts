// npm run bench:mapping — the Orla paper's first experiment: stage mapping on SWE-bench.
// 2,294 single-shot "write the patch" requests built from the real SWE-bench test set
// (bench/mapping/workload.ts), all submitted at once, temperature 0, 128 in flight per backend.
// Two simulated engines in child processes: light = Qwen3-4B, heavy = Qwen3-8B (H100 profiles),
// both `--speed` times faster than real time; every time below is converted back to engine time.
// Runs: all-heavy (the baseline: one stage on the heavy model) against OneBit (a classifier call on
// the light model decides light or heavy), with a classifier that is always right and one that errs
// (`--error-rate`), each also with Orla's queueing tuned for the burst: shortest prompt first (sjf)
// inside each stage's queue, and `fair` between the classifier's queue and the simple requests' on
// the light backend. Gateway timers are kept in engine time (divided by the speed-up).
// Options: --speed (20), --seed (1), --error-rate (0.1), --rounds (1; medians of interleaved rounds),
// --runs (names below), --limit (first N instances), --flat-outputs (outputs not sized by difficulty),
// --cached-price (0.25: cached input at a quarter of the input price; 1: no discount),
// --classifier-reads (user | all) and --classifier-chars (4000): what OneBit's classifier reads.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median, percentile } from './load.js';
import { ROOT, startCompiled } from './processes.js';
import { startRouter, type Served } from './mapping/routing.js';
import { buildWorkload, loadInstances, type SweRequest } from './mapping/workload.js';

const { values: args } = parseArgs({
  options: {
    speed: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    'error-rate': { type: 'string', default: '0.1' },
    /** Every output the mean length instead of sized from its gold patch. */
    'flat-outputs': { type: 'boolean', default: false },
    /** Interleaved repetitions of every run; the table shows medians. */
    rounds: { type: 'string', default: '1' },
    limit: { type: 'string' },
    /** Comma-separated run names (see RUNS); default: all. */
    runs: { type: 'string' },
    data: { type: 'string', default: '../shared/data/swe-bench/swe-bench-test.jsonl.gz' },
    /** Cached input's price as a share of the input price, for both backends and every run. */
    'cached-price': { type: 'string', default: '0.25' },
    /** OneBit's `reads` and `max_content_chars` (their defaults). */
    'classifier-reads': { type: 'string', default: 'user' },
    'classifier-chars': { type: 'string', default: '4000' },
  },
});
const SPEED = Number(args.speed);
const SEED = Number(args.seed);
const ERROR_RATE = Number(args['error-rate']);
const ROUNDS = Number(args.rounds);
const FLAT_OUTPUTS = args['flat-outputs'] ?? false;
const CACHED_PRICE = Number(args['cached-price']);
const CLASSIFIER_READS = args['classifier-reads'] as 'user' | 'all';
const CLASSIFIER_CHARS = Number(args['classifier-chars']);
const IN_FLIGHT = 128;
/**
 * USD per million tokens: the embedded default's input and output prices, and cached input at a
 * quarter of the input price (OpenAI's GPT-4.1 models charge that; GPT-5's and Anthropic's cache
 * reads a tenth). The engines' prefix cache serves every request's shared system prompt and every
 * classifier call's instructions, so all runs, the baseline too, pay less for those tokens.
 */
const priced = (input: number, output: number) => ({ input_per_mtok: input, cached_input_per_mtok: input * CACHED_PRICE, output_per_mtok: output });
const PRICES = { light: priced(0.05, 0.2), heavy: priced(0.1, 0.4) };
/** The classifier's budget, in engine seconds: the whole burst is classified through one queue. */
const CLASSIFIER_TIMEOUT_S = 300;
/** The scheduler's default aging (2 s), kept in engine time. */
const AGING_S = 2;

interface Run {
  name: string;
  label: string;
  onebit: boolean;
  errorRate: number;
  request: 'fcfs' | 'sjf';
  /** The light backend's stage scheduler: which of the classifier's and the simple requests' queues goes next. */
  lightStages?: 'fcfs' | 'fair';
}

const wrong = `wrong ${ERROR_RATE * 100}%`;
const ALL_RUNS: Run[] = [
  { name: 'all-heavy', label: 'all-heavy (baseline)', onebit: false, errorRate: 0, request: 'fcfs' },
  { name: 'all-heavy-sjf', label: 'all-heavy, sjf', onebit: false, errorRate: 0, request: 'sjf' },
  { name: 'onebit-right', label: 'OneBit, classifier always right', onebit: true, errorRate: 0, request: 'fcfs' },
  { name: 'onebit-right-tuned', label: 'OneBit, always right, sjf + fair light', onebit: true, errorRate: 0, request: 'sjf', lightStages: 'fair' },
  { name: 'onebit', label: `OneBit, classifier ${wrong}`, onebit: true, errorRate: ERROR_RATE, request: 'fcfs' },
  { name: 'onebit-tuned', label: `OneBit, ${wrong}, sjf + fair light`, onebit: true, errorRate: ERROR_RATE, request: 'sjf', lightStages: 'fair' },
];
const RUNS = args.runs ? ALL_RUNS.filter((r) => args.runs!.split(',').includes(r.name)) : ALL_RUNS;

const instances = loadInstances(resolve(ROOT, args.data)); // relative to the repository
const limited = args.limit ? instances.slice(0, Number(args.limit)) : instances;

interface Result {
  run: Run;
  wallS: number;
  meanS: number;
  p99S: number;
  costUsd: number;
  classifierUsd: number;
  /** Cached share of all prompt tokens, classifier calls included. */
  cachedShare: number;
  /** Per classifier call: prompt tokens, and how many of them the engine had cached. */
  classifierPrompt: number;
  classifierCached: number;
  light: number;
  heavy: number;
  fallbacks: number;
  errors: number;
}

async function measure(run: Run): Promise<Result> {
  const workload = buildWorkload(limited, { seed: SEED, errorRate: run.errorRate, flatOutputs: FLAT_OUTPUTS });
  const [light, heavy] = await Promise.all([
    startCompiled('cli/main.ts', ['sim', '--profile', 'qwen3-4b-h100', '--speed', String(SPEED), '--port', '0'], 'light engine'),
    startCompiled('cli/main.ts', ['sim', '--profile', 'qwen3-8b-h100', '--speed', String(SPEED), '--port', '0'], 'heavy engine'),
  ]);
  const router = await startRouter({
    server: { log_level: 'silent' },
    backends: {
      light: { engine: 'simulator', urls: [light.url], max_concurrency: IN_FLIGHT, price: PRICES.light, scheduler: run.lightStages ?? 'fcfs' },
      heavy: { engine: 'simulator', urls: [heavy.url], max_concurrency: IN_FLIGHT, price: PRICES.heavy },
    },
    scheduler: { stage: 'fcfs', request: run.request, aging_ms: Math.round((AGING_S * 1000) / SPEED) },
    mappers: {
      route: {
        kind: 'onebit',
        prompt: 'swe-bench',
        reads: CLASSIFIER_READS,
        max_content_chars: CLASSIFIER_CHARS,
        classifier: { backend: 'light', model: 'Qwen/Qwen3-4B', timeout_ms: Math.round((CLASSIFIER_TIMEOUT_S * 1000) / SPEED) },
        simple: { backend: 'light', model: 'Qwen/Qwen3-4B' },
        complex: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
      },
    },
    stages: { solve: run.onebit ? { mapper: 'route' } : { backend: 'heavy', model: 'Qwen/Qwen3-8B' } },
  });
  try {
    const startedAt = performance.now();
    let firstError: unknown;
    const served = await Promise.all(
      workload.requests.map((request: SweRequest) =>
        router.complete(request, startedAt).catch((err: unknown): undefined => void (firstError ??= err)),
      ),
    );
    const ok = served.filter((s): s is Served => s !== undefined && s.status === 200);
    const errors = served.length - ok.length;
    if (errors > 0) process.stderr.write(`  ${run.label}: ${errors} failed; first: ${String(firstError ?? served.find((s) => s && s.status !== 200)?.status)}\n`);
    const engineS = (ms: number) => (ms * SPEED) / 1000;
    const times = ok.map((s) => s.ms);
    const { classification } = router;
    const perCall = (tokens: number) => (classification.calls > 0 ? tokens / classification.calls : 0);
    const sum = (pick: (s: Served) => number) => ok.reduce((total, s) => total + pick(s), 0);
    const promptTokens = sum((s) => s.usage.promptTokens) + classification.promptTokens;
    return {
      run,
      wallS: engineS(Math.max(...times)),
      meanS: engineS(times.reduce((a, b) => a + b, 0) / times.length),
      p99S: engineS(percentile(times, 99)),
      costUsd: sum((s) => s.costUsd),
      classifierUsd: classification.costUsd,
      cachedShare: (sum((s) => s.usage.cachedTokens) + classification.cachedTokens) / promptTokens,
      classifierPrompt: perCall(classification.promptTokens),
      classifierCached: perCall(classification.cachedTokens),
      light: ok.filter((s) => s.backend === 'light').length,
      heavy: ok.filter((s) => s.backend === 'heavy').length,
      fallbacks: classification.fallbacks,
      errors,
    };
  } finally {
    await router.close();
    await Promise.all([light.stop(), heavy.stop()]);
  }
}

const workload = buildWorkload(limited, { seed: SEED, errorRate: 0, flatOutputs: FLAT_OUTPUTS });
process.stderr.write(
  `${workload.requests.length} requests, ${(workload.simpleShare * 100).toFixed(1)}% simple (one file, ≤ ${workload.maxSimpleLines} changed lines), ` +
    `engines at ${SPEED}x, ${ROUNDS} round(s)\n`,
);
// Rounds interleave the runs, so that whatever else the machine does falls on all of them alike.
const rounds = new Map<Run, Result[]>(RUNS.map((run) => [run, []]));
for (let round = 1; round <= ROUNDS; round++) {
  for (const run of RUNS) {
    const t0 = performance.now();
    rounds.get(run)!.push(await measure(run));
    process.stderr.write(`  round ${round}, ${run.label}: ${((performance.now() - t0) / 1000).toFixed(1)} s wall\n`);
  }
}

/** Each figure's median over the rounds. */
const results = RUNS.map((run): Result => {
  const all = rounds.get(run)!;
  const mid = (pick: (r: Result) => number) => median(all.map(pick));
  return {
    run,
    wallS: mid((r) => r.wallS),
    meanS: mid((r) => r.meanS),
    p99S: mid((r) => r.p99S),
    costUsd: mid((r) => r.costUsd),
    classifierUsd: mid((r) => r.classifierUsd),
    cachedShare: mid((r) => r.cachedShare),
    classifierPrompt: mid((r) => r.classifierPrompt),
    classifierCached: mid((r) => r.classifierCached),
    light: mid((r) => r.light),
    heavy: mid((r) => r.heavy),
    fallbacks: mid((r) => r.fallbacks),
    errors: Math.max(...all.map((r) => r.errors)),
  };
});
const spread = Math.max(
  ...RUNS.map((run) => {
    const means = rounds.get(run)!.map((r) => r.meanS);
    return (Math.max(...means) - Math.min(...means)) / median(means);
  }),
);

const base = results.find((r) => r.run.name === 'all-heavy');
const change = (value: number, of: number | undefined) => (of ? ` (${value <= of ? '−' : '+'}${Math.abs((1 - value / of) * 100).toFixed(0)}%)` : '');
const rows = results.map(
  (r) =>
    `| ${r.run.label} | ${r.wallS.toFixed(1)}${change(r.wallS, base?.wallS)} | ${r.meanS.toFixed(1)}${change(r.meanS, base?.meanS)} | ` +
    `${r.p99S.toFixed(1)}${change(r.p99S, base?.p99S)} | ${r.costUsd.toFixed(3)}${change(r.costUsd, base?.costUsd)} | ${r.classifierUsd.toFixed(3)} | ` +
    `${(r.cachedShare * 100).toFixed(1)}% | ` +
    `${r.light} / ${r.heavy} | ${r.fallbacks} | ${r.errors} |`,
);
process.stdout.write(
  [
    `SWE-bench test set: ${workload.requests.length} requests at once, ${(workload.simpleShare * 100).toFixed(1)}% simple by the gold patch, ` +
      `${IN_FLIGHT} in flight per backend, temperature 0, seed ${SEED}; engines at ${SPEED}x, times in engine seconds. ` +
      (FLAT_OUTPUTS ? 'Every output the mean length (--flat-outputs). ' : '') +
      `Classifier: Qwen3-4B on the light backend, prompt swe-bench, reads ${CLASSIFIER_READS === 'user' ? "the user's turns" : 'system and user text'}, ` +
      `≤ ${CLASSIFIER_CHARS.toLocaleString('en')} characters, timeout ${CLASSIFIER_TIMEOUT_S} s. ` +
      `Prices per million tokens: ${(['light', 'heavy'] as const).map((b) => `${b} $${PRICES[b].input_per_mtok} in, $${PRICES[b].cached_input_per_mtok} cached, $${PRICES[b].output_per_mtok} out`).join('; ')}.` +
      (ROUNDS > 1 ? ` Medians of ${ROUNDS} interleaved rounds; mean completion varied by up to ${(spread * 100).toFixed(0)}% between rounds.` : ''),
    '',
    '| run | wall-clock s | mean completion s | p99 completion s | cost $ | of which classifier $ | cached input | light / heavy | fallbacks | errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...results
      .filter((r) => r.run.onebit)
      .map((r) => `${r.run.label}: ${r.classifierPrompt.toFixed(0)} prompt tokens per classifier call, ${r.classifierCached.toFixed(0)} of them cached.`),
    '',
  ].join('\n'),
);
