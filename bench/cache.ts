// npm run bench:cache — the Orla paper's second experiment: workflow-level KV-cache management on
// DAG-MATH-shaped workflows. Each problem is a DAG of reasoning steps (chains, diamonds, a wide
// diamond, fan-in; bench/workloads/dag-math.ts); each step is one stage whose prompt is the problem,
// then the results of the steps it depends on, then the step; 256 output tokens (ignore_eos),
// temperature 0. Runs go one after another; inside a run, steps whose dependencies are done go
// together. The run's last step carries X-Orla-Workflow-Done: true.
//
// --prompt-form chat (the default): a step's messages are the conversation of its ancestor steps
// (the problem and the first step as a user turn, each result as an assistant turn, each later step
// as a user turn), then the step; a step extends its main dependency's call, prompt and output.
// --prompt-form flat: one user message, the problem, "Results of earlier steps", the step.
//
// Three gateways (`orla serve`), each in front of its own simulated Qwen3-8B/H100 engine (`orla sim
// --speed X`), differing only in their `memory:` section (bench/cache/stacks.ts):
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
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { report } from './cache/report.js';
import { runProblem, type Call } from './cache/run.js';
import { policies, startStack, stopStack, type PolicyName, type Stack } from './cache/stacks.js';
import { ROOT } from './processes.js';
import { buildProblems, DAG_SOURCES, PROMPT_FORMS, type DagSource, type PromptForm } from './workloads/dag-math.js';
import { counterDelta, engineCounters, type EngineCounters } from './workloads/metrics.js';
import { Random } from './workloads/random.js';

const { values: args } = parseArgs({
  options: {
    speed: { type: 'string', default: '2' },
    problems: { type: 'string', default: '40' },
    seed: { type: 'string', default: '1' },
    'min-tokens': { type: 'string', default: '1000' },
    'max-tokens': { type: 'string', default: '3000' },
    'prompt-form': { type: 'string', default: 'chat' },
    /** shapes: four small DAGs (3-5 steps); long: DAG-MATH-like solutions of 8-16 steps. */
    dags: { type: 'string', default: 'shapes' },
    /** Default: bench/results/cache-ttft-cdf.svg (chat), cache-ttft-cdf-flat.svg (flat). */
    svg: { type: 'string' },
    /** One stack at a time instead of side by side (three times longer, less CPU contention). */
    sequential: { type: 'boolean', default: false },
  },
});
const form = args['prompt-form'] as PromptForm;
if (!PROMPT_FORMS.includes(form)) throw new Error(`--prompt-form: ${PROMPT_FORMS.join(' or ')}, not ${form}`);
const dags = args.dags as DagSource;
if (!DAG_SOURCES.includes(dags)) throw new Error(`--dags: ${DAG_SOURCES.join(' or ')}, not ${dags}`);
const SPEED = Number(args.speed);
const SEED = Number(args.seed);
const MIN_TOKENS = Number(args['min-tokens']);
const MAX_TOKENS = Number(args['max-tokens']);
const SEQUENTIAL = args.sequential === true;
const svg = args.svg ?? `bench/results/cache-ttft-cdf${form === 'chat' ? '' : `-${form}`}.svg`;
/** Between the stacks' starts, engine ms: about a third of one step (256 tokens at ~7 ms). */
const STAGGER_MS = 600;

const problems = buildProblems({ seed: SEED, problems: Number(args.problems), minTokens: MIN_TOKENS, maxTokens: MAX_TOKENS, dags });
const requestsPerPolicy = problems.reduce((n, p) => n + p.steps.length, 0);
process.stderr.write(
  `${problems.length} problems (${requestsPerPolicy} calls per policy, ${form} prompts), statements ${MIN_TOKENS}–${MAX_TOKENS} tokens, engines at ${SPEED}x\n`,
);

const POLICIES = policies(SPEED);
const runOptions = { speed: SPEED, form };
const stacks = await Promise.all(POLICIES.map((p) => startStack(p, SPEED)));
const calls: Call[] = [];
const engine = new Map<PolicyName, EngineCounters>();
const runSeconds = new Map<PolicyName, number[]>(POLICIES.map((p) => [p.name, []]));
let totalWallS = 0;
try {
  // Warm-up (not recorded): one problem of another seed on every stack, so JIT and connection set-up
  // do not land on the first measured run.
  const warmUp = buildProblems({ seed: SEED + 1_000_003, problems: 1, minTokens: 1000, maxTokens: 1000 })[0]!;
  await Promise.all(stacks.map((s) => runProblem(s, warmUp, runOptions)));
  const before = await Promise.all(stacks.map((s) => engineCounters(s.sim.url)));
  const order = new Random(SEED * 7919 + 1);
  const t0 = performance.now();
  for (const [i, problem] of problems.entries()) {
    // The same problem on the three stacks side by side, in a shuffled order, each started a third
    // of a step after the one before: machine noise (2 cores, other work) hits all three alike,
    // while their first tokens never compete for the CPU at the same instant.
    const one = async (stack: Stack) => {
      const start = performance.now();
      calls.push(...(await runProblem(stack, problem, runOptions)));
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
  await Promise.all(stacks.map(stopStack));
}

const shapes = [...new Set(problems.map((p) => p.shape))].map((s) => `${problems.filter((p) => p.shape === s).length} ${s}`).join(', ');
process.stdout.write(
  report(
    { policies: POLICIES, calls, engine, runSeconds, totalWallS },
    { form, speed: SPEED, seed: SEED, problems: problems.length, shapes, minTokens: MIN_TOKENS, maxTokens: MAX_TOKENS },
    resolve(ROOT, svg),
    svg,
  ),
);
