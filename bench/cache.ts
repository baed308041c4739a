// npm run bench:cache — the Orla paper's second experiment: workflow-level KV-cache management on
// DAG-MATH-shaped workflows. Each problem is a DAG of reasoning steps (chains, diamonds, a wide
// diamond, fan-in; bench/workloads/dag-math.ts); each step is one stage whose prompt is the problem,
// then the results of the steps it depends on, then the step; 256 output tokens (ignore_eos),
// temperature 0. Runs go one after another; inside a run, steps whose dependencies are done go
// together. The run's last step carries X-Orla-Workflow-Done: true.
//
// Three gateways (`orla serve`), each in front of its own simulated Qwen3-8B/H100 engine (`orla sim
// --speed X`), differing only in their `memory:` section:
//   flush-per-request   memory.policy flush-per-request: the run's session is flushed after every call
//   flush-per-workflow  memory.policy flush-per-workflow alone (pressure monitor off): preserve between
//                       stages, release when the run ends
//   orla                Orla's automatic rules: the default memory config (flush-per-workflow) with the
//                       backend's kv_capacity_tokens given, so the ledger joins the pressure monitor;
//                       release on run end (done header, idle TTL), on a backend switch, and under
//                       pressure (farthest next use first); tool-wait retention; replica affinity
// In this bench only two of those rules have anything to act on (preserve between stages, release at
// the run's end): one replica, one backend, no tools, and one run at a time never fills the cache.
// Problems are interleaved: problem i runs on the three stacks side by side (started in a shuffled
// order, staggered by a third of a step) before problem i+1, so machine noise hits all alike. TTFT is
// timed on the client (first content chunk) and converted to engine time (× speed, so the ~4 ms of
// wall-clock HTTP, tokenization and timer overhead per call counts double at the default 2x); the
// engines' own TTFT sums (/metrics) are shown alongside.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { percentile } from './load.js';
import { ROOT, startTs, type Started } from './processes.js';
import { buildProblems, sinkOf, stepKind, stepMessages, type Problem, type Step, type StepKind } from './workloads/dag-math.js';
import { counterDelta, engineCounters, type EngineCounters } from './workloads/metrics.js';
import { Random } from './workloads/random.js';
import { streamChat, type StreamResult } from './workloads/stream.js';
import { cdfSvg } from './workloads/svg.js';

const { values: args } = parseArgs({
  options: {
    speed: { type: 'string', default: '2' },
    problems: { type: 'string', default: '40' },
    seed: { type: 'string', default: '1' },
    'min-tokens': { type: 'string', default: '1000' },
    'max-tokens': { type: 'string', default: '3000' },
    svg: { type: 'string', default: 'bench/results/cache-ttft-cdf.svg' },
    /** One stack at a time instead of side by side (three times longer, less CPU contention). */
    sequential: { type: 'boolean', default: false },
  },
});
const SPEED = Number(args.speed);
const SEED = Number(args.seed);
const SEQUENTIAL = args.sequential === true;
const OUTPUT_TOKENS = 256;
const MODEL = 'Qwen/Qwen3-8B';
const KV_CAPACITY = 350_000; // the qwen3-8b-h100 profile's
/** Between the stacks' starts, engine ms: about a third of one step (256 tokens at ~7 ms). */
const STAGGER_MS = 600;
/** Gateway timers are kept in engine time: the defaults divided by the speed-up. */
const engineMs = (ms: number) => Math.max(1, Math.round(ms / SPEED));

interface Policy {
  name: 'flush-per-request' | 'flush-per-workflow' | 'orla';
  label: string;
  color: string;
  memory: Record<string, unknown>;
  kvCapacity: boolean;
}

const POLICIES: Policy[] = [
  {
    name: 'flush-per-request',
    label: 'flush-per-request',
    color: '#d62728',
    memory: { policy: 'flush-per-request', idle_ttl_s: 600 / SPEED, pressure: { interval_ms: engineMs(2_000) } },
    kvCapacity: false,
  },
  {
    name: 'flush-per-workflow',
    label: 'flush-per-workflow (policy alone)',
    color: '#1f77b4',
    memory: { policy: 'flush-per-workflow', idle_ttl_s: 600 / SPEED, pressure: { interval_ms: 0 } },
    kvCapacity: false,
  },
  {
    name: 'orla',
    label: "Orla's automatic rules",
    color: '#2ca02c',
    memory: { policy: 'flush-per-workflow', idle_ttl_s: 600 / SPEED, pressure: { high: 0.9, low: 0.75, interval_ms: engineMs(2_000) } },
    kvCapacity: true,
  },
];

interface Stack {
  policy: Policy;
  sim: Started;
  orla: Started;
  pool: Pool;
}

interface Call {
  policy: Policy['name'];
  problem: string;
  shape: string;
  step: string;
  kind: StepKind;
  root: boolean;
  /** Engine milliseconds. */
  ttftMs: number;
  e2eMs: number;
  promptTokens: number;
  cachedTokens: number;
  cache: string | undefined;
  /** X-Orla-Overhead-Ms, wall ms. */
  overheadMs: number;
  outputHash: string;
}

const dir = mkdtempSync(join(tmpdir(), 'orla-bench-cache-'));

async function startStack(policy: Policy): Promise<Stack> {
  const sim = await startTs('cli/main.ts', ['sim', '--profile', 'qwen3-8b-h100', '--speed', String(SPEED), '--port', '0'], `${policy.name} engine`);
  const file = join(dir, `${policy.name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      server: { log_level: 'warn' },
      backends: {
        engine: {
          engine: 'simulator',
          urls: [sim.url],
          max_concurrency: 64,
          ...(policy.kvCapacity ? { kv_capacity_tokens: KV_CAPACITY } : {}),
        },
      },
      stages: { default: { backend: 'engine', model: MODEL, params: { temperature: 0 } } },
      memory: policy.memory,
    }),
  );
  const orla = await startTs('cli/main.ts', ['serve', '--config', file, '--port', '0'], `${policy.name} gateway`);
  return { policy, sim, orla, pool: new Pool(orla.url, { connections: 16, keepAliveTimeout: 60_000 }) };
}

/** One workflow run: every step as soon as its dependencies are done; the sink says the run is done. */
async function runProblem(stack: Stack, problem: Problem): Promise<Call[]> {
  const run = `${stack.policy.name}-${problem.id}`;
  const sink = sinkOf(problem);
  const results = new Map<string, string>();
  const calls: Call[] = [];
  const started = new Set<string>();
  const call = async (step: Step): Promise<void> => {
    const headers: Record<string, string> = { 'x-orla-workflow-run': run, 'x-orla-stage': step.id };
    if (step === sink) headers['x-orla-workflow-done'] = 'true';
    const res: StreamResult = await streamChat(
      stack.pool,
      { model: MODEL, messages: stepMessages(problem, step, results), max_tokens: OUTPUT_TOKENS, ignore_eos: true, temperature: 0 },
      headers,
      true,
    );
    if (res.status !== 200 || res.error) throw new Error(`${run} ${step.id}: ${res.error ?? res.status}`);
    results.set(step.id, res.text);
    calls.push({
      policy: stack.policy.name,
      problem: problem.id,
      shape: problem.shape,
      step: step.id,
      kind: stepKind(problem, step),
      root: step.after.length === 0,
      ttftMs: res.ttftMs * SPEED,
      e2eMs: res.e2eMs * SPEED,
      promptTokens: res.promptTokens,
      cachedTokens: res.cachedTokens,
      cache: res.cache,
      overheadMs: res.overheadMs,
      outputHash: createHash('sha1').update(res.text).digest('hex').slice(0, 12),
    });
    await launchReady();
  };
  const launchReady = async (): Promise<void> => {
    const ready = problem.steps.filter((s) => !started.has(s.id) && s.after.every((d) => results.has(d)));
    for (const s of ready) started.add(s.id);
    await Promise.all(ready.map(call));
  };
  await launchReady();
  return calls;
}

const problems = buildProblems({ seed: SEED, problems: Number(args.problems), minTokens: Number(args['min-tokens']), maxTokens: Number(args['max-tokens']) });
const requestsPerPolicy = problems.reduce((n, p) => n + p.steps.length, 0);
process.stderr.write(
  `${problems.length} problems (${requestsPerPolicy} calls per policy), statements ${args['min-tokens']}–${args['max-tokens']} tokens, engines at ${SPEED}x\n`,
);

const stacks = await Promise.all(POLICIES.map(startStack));
const calls: Call[] = [];
const engine = new Map<string, EngineCounters>();
const runSeconds = new Map<string, number[]>(POLICIES.map((p) => [p.name, []]));
let totalWallS = 0;
try {
  // Warm-up (not recorded): one problem of another seed on every stack, so JIT and connection set-up
  // do not land on the first measured run.
  const warmUp = buildProblems({ seed: SEED + 1_000_003, problems: 1, minTokens: 1000, maxTokens: 1000 })[0]!;
  await Promise.all(stacks.map((s) => runProblem(s, warmUp)));
  const before = await Promise.all(stacks.map((s) => engineCounters(s.sim.url)));
  const order = new Random(SEED * 7919 + 1);
  const t0 = performance.now();
  for (const [i, problem] of problems.entries()) {
    // The same problem on the three stacks side by side, in a shuffled order, each started a third
    // of a step after the one before: machine noise (2 cores, other work) hits all three alike,
    // while their first tokens never compete for the CPU at the same instant.
    const one = async (stack: Stack) => {
      const start = performance.now();
      calls.push(...(await runProblem(stack, problem)));
      runSeconds.get(stack.policy.name)!.push(((performance.now() - start) * SPEED) / 1000);
    };
    const shuffled = order.shuffle(stacks);
    if (SEQUENTIAL) for (const stack of shuffled) await one(stack);
    else await Promise.all(shuffled.map(async (stack, k) => {
      await new Promise((r) => setTimeout(r, (k * STAGGER_MS) / SPEED));
      await one(stack);
    }));
    if ((i + 1) % 10 === 0) process.stderr.write(`  ${i + 1}/${problems.length} problems, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  totalWallS = (performance.now() - t0) / 1000;
  const after = await Promise.all(stacks.map((s) => engineCounters(s.sim.url)));
  stacks.forEach((s, i) => engine.set(s.policy.name, counterDelta(after[i]!, before[i]!)));
} finally {
  await Promise.all(stacks.map(async (s) => {
    await s.pool.close();
    await s.orla.stop();
    await s.sim.stop();
  }));
}

// Same prompts everywhere: the simulator's output is a function of the messages, so every policy
// must have produced the same text for each step (otherwise later prompts differed).
const outputs = new Map<string, string>();
let mismatches = 0;
for (const c of calls) {
  const key = `${c.problem}/${c.step}`;
  const seen = outputs.get(key);
  if (seen === undefined) outputs.set(key, c.outputHash);
  else if (seen !== c.outputHash) mismatches++;
}

const fmt = (ms: number) => ms.toFixed(1);
const KINDS: StepKind[] = ['first', 'chain', 'parallel', 'merge'];
const KIND_LABELS: Record<StepKind, string> = {
  first: 'first steps (no dependency)',
  chain: 'chain steps (1 dependency, alone)',
  parallel: 'parallel steps (1 dependency, sent with siblings)',
  merge: 'merge steps (2–3 dependencies)',
};
const stats = new Map(
  POLICIES.map((p) => {
    const mine = calls.filter((c) => c.policy === p.name);
    const ttft = mine.map((c) => c.ttftMs);
    const dependent = mine.filter((c) => !c.root).map((c) => c.ttftMs);
    const roots = mine.filter((c) => c.root).map((c) => c.ttftMs);
    const prompt = mine.reduce((n, c) => n + c.promptTokens, 0);
    const cached = mine.reduce((n, c) => n + c.cachedTokens, 0);
    const e = engine.get(p.name)!;
    const decisions = new Map<string, number>();
    for (const c of mine) {
      const key = (c.cache ?? 'none').split('; replica')[0]!;
      decisions.set(key, (decisions.get(key) ?? 0) + 1);
    }
    return [p.name, {
      n: mine.length,
      p50: percentile(ttft, 50),
      p90: percentile(ttft, 90),
      p99: percentile(ttft, 99),
      mean: ttft.reduce((a, b) => a + b, 0) / ttft.length,
      rootP50: percentile(roots, 50),
      dependentP50: percentile(dependent, 50),
      hitRate: cached / prompt,
      engineMean: (e.ttftSecondsSum / e.requests) * 1000,
      engineRequests: e.requests,
      overhead: percentile(mine.map((c) => c.overheadMs), 50),
      runS: runSeconds.get(p.name)!.reduce((a, b) => a + b, 0) / problems.length,
      decisions: [...decisions].map(([k, v]) => `${k} ×${v}`).join(', '),
      ttft,
      byKind: new Map(KINDS.map((k) => [k, percentile(mine.filter((c) => c.kind === k).map((c) => c.ttftMs), 50)])),
      kindCounts: new Map(KINDS.map((k) => [k, mine.filter((c) => c.kind === k).length])),
    }];
  }),
);

const svgPath = join(ROOT, args.svg);
mkdirSync(join(svgPath, '..'), { recursive: true });
writeFileSync(
  svgPath,
  cdfSvg(
    POLICIES.map((p) => ({ label: `${p.name === 'orla' ? "Orla's rules" : p.name} (p50 ${fmt(stats.get(p.name)!.p50)} ms)`, values: stats.get(p.name)!.ttft, color: p.color })),
    { title: `TTFT, DAG-MATH-shaped workflows, simulated Qwen3-8B/H100 (${requestsPerPolicy} calls per policy)`, xLabel: 'time to first token, engine ms', log: true },
  ),
);
writeFileSync(
  svgPath.replace(/\.svg$/, '.json'),
  `${JSON.stringify({ speed: SPEED, seed: SEED, problems: problems.length, calls }, null, 0)}\n`,
);

const fpr = stats.get('flush-per-request')!;
const orla = stats.get('orla')!;
const fpw = stats.get('flush-per-workflow')!;
const shapes = [...new Set(problems.map((p) => p.shape))].map((s) => `${problems.filter((p) => p.shape === s).length} ${s}`).join(', ');
process.stdout.write(
  [
    `${problems.length} problems (${shapes}; seed ${SEED}), statements ${args['min-tokens']}–${args['max-tokens']} tokens, ${requestsPerPolicy} calls per policy, ` +
      `${OUTPUT_TOKENS} output tokens each, runs one after another; simulated Qwen3-8B/H100 at ${SPEED}x, one engine per policy, the three policies side by side; times in engine time (wall ${totalWallS.toFixed(0)} s).`,
    '',
    '| policy | TTFT p50 ms | p90 ms | p99 ms | mean ms | first steps p50 ms | later steps p50 ms | cached / prompt tokens | engine-side mean TTFT ms | mean run s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...POLICIES.map((p) => {
      const s = stats.get(p.name)!;
      return `| ${p.label} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.mean)} | ${fmt(s.rootP50)} | ${fmt(s.dependentP50)} | ${(s.hitRate * 100).toFixed(1)}% | ${fmt(s.engineMean)} | ${s.runS.toFixed(2)} |`;
    }),
    '',
    `p50 TTFT, flush-per-request ÷ Orla's rules: **${(fpr.p50 / orla.p50).toFixed(2)}x** (target ≥ 3x); flush-per-request ÷ flush-per-workflow: ${(fpr.p50 / fpw.p50).toFixed(2)}x; ` +
      `engine-side mean TTFT ratio: ${(fpr.engineMean / orla.engineMean).toFixed(2)}x.`,
    '',
    'TTFT p50 by kind of step (engine ms):',
    '',
    `| step kind | calls per policy | ${POLICIES.map((p) => p.label).join(' | ')} | flush-per-request ÷ Orla |`,
    `| --- | --- | ${POLICIES.map(() => '---').join(' | ')} | --- |`,
    ...KINDS.map((k) => `| ${KIND_LABELS[k]} | ${fpr.kindCounts.get(k)} | ${POLICIES.map((p) => fmt(stats.get(p.name)!.byKind.get(k)!)).join(' | ')} | ${(fpr.byKind.get(k)! / orla.byKind.get(k)!).toFixed(2)}x |`),
    '',
    `X-Orla-Cache decisions: ${POLICIES.map((p) => `${p.name}: ${stats.get(p.name)!.decisions}`).join(' · ')}.`,
    `Gateway overhead (X-Orla-Overhead-Ms, wall ms, p50): ${POLICIES.map((p) => `${p.name} ${stats.get(p.name)!.overhead.toFixed(2)}`).join(', ')}.`,
    `Outputs identical across policies: ${mismatches === 0 ? 'yes' : `no (${mismatches} differ)`}. CDF: ${args.svg}.`,
    '',
  ].join('\n'),
);
