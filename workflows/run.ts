import { randomUUID } from 'node:crypto';
import type { OpenAI } from 'openai';
import type { Dag } from './dag.js';
import { eventEmitter, type StageInfo, type WorkflowEventListener } from './events.js';
import { runStage } from './stage.js';
import type { RunResult, RunStatus, StageContext, StageMap, StageOutcome, StageSpec } from './types.js';
import { completeRun } from './wire.js';

// One execution of a workflow: start every stage whose dependencies are done, concurrently; skip
// the dependents of a stage that failed; and complete the run on the gateway at the end, whatever
// happened (done, failed or cancelled).

export interface RunOptions {
  /** An `openai` client whose baseURL is the gateway's `/v1`. */
  client: OpenAI;
  /** The workflow run id (`X-Orla-Workflow-Run`). Default: the workflow's name and a random suffix. */
  runId?: string;
  /** `model` of requests whose stage sets none; the gateway's stage mapping usually replaces it. */
  model?: string;
  /** Cancels the run: calls in flight are aborted, stages not started never start. */
  signal?: AbortSignal;
  onEvent?: WorkflowEventListener;
}

export interface WorkflowShape<I, R> {
  name: string;
  stages: StageMap<I, R>;
  info: readonly StageInfo[];
  dag: Dag;
}

export async function executeRun<I, R>(workflow: WorkflowShape<I, R>, input: I, options: RunOptions): Promise<RunResult<R>> {
  const run = options.runId ?? `${workflow.name}-${randomUUID().slice(0, 8)}`;
  const startedAt = performance.now();
  const clock = () => performance.now() - startedAt;
  const emit = eventEmitter(run, options.onEvent, startedAt);
  const cancel = new AbortController();
  const onAbort = () => cancel.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  const outcomes = new Map<string, StageOutcome>(
    workflow.info.map((s) => [s.name, { name: s.name, status: 'pending', after: s.after, calls: [], tools: [], tokens: { prompt: 0, completion: 0, cached: 0 } }]),
  );
  emit({ type: 'run_started', workflow: workflow.name, stages: workflow.info, layers: workflow.dag.layers });

  try {
    await new Promise<void>((resolve) => {
      let running = 0;
      const finish = (outcome: StageOutcome) => emit({ type: 'stage_finished', stage: outcome.name, outcome });
      const advance = () => {
        // Topological order, so a skip reaches every dependent in one pass.
        for (const name of workflow.dag.order) {
          const outcome = outcomes.get(name)!;
          if (outcome.status !== 'pending') continue;
          const deps = outcome.after.map((d) => outcomes.get(d)!);
          if (cancel.signal.aborted) {
            outcome.status = 'cancelled';
            outcome.error = { kind: 'cancelled', message: 'the run was cancelled before this stage started' };
            finish(outcome);
          } else if (deps.some((d) => d.status === 'failed' || d.status === 'skipped' || d.status === 'cancelled')) {
            const blocker = deps.find((d) => d.status !== 'done' && d.status !== 'running' && d.status !== 'pending')!;
            outcome.status = 'skipped';
            outcome.error = { kind: 'dependency', message: `not run: ${blocker.name} ${blocker.status}` };
            finish(outcome);
          } else if (deps.every((d) => d.status === 'done')) {
            running += 1;
            const spec = workflow.stages[name as keyof R & string] as StageSpec<I, R, keyof R>;
            const ctx = stageContext<I, R>(run, name, input, workflow.dag.ancestors.get(name)!, outcomes, cancel.signal);
            void runStage({ client: options.client, model: options.model ?? 'default', spec, ctx, emit, clock }, outcome).then((done) => {
              running -= 1;
              finish(done);
              advance();
            });
          }
        }
        if (running === 0) resolve();
      };
      // Cancelling marks the stages that never started at once; running ones end through their signal.
      cancel.signal.addEventListener('abort', () => queueMicrotask(advance), { once: true });
      advance();
    });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }

  const completion = await completeRun(options.client, run);
  const result = summarize<R>(workflow.name, run, outcomes, clock(), completion, options.signal?.aborted ?? false);
  emit({ type: 'run_finished', result: result as RunResult<Record<string, unknown>> });
  return result;
}

function stageContext<I, R>(
  run: string,
  stage: string,
  input: I,
  upstream: ReadonlySet<string>,
  outcomes: ReadonlyMap<string, StageOutcome>,
  signal: AbortSignal,
): StageContext<I, R> {
  return {
    run,
    stage,
    input,
    signal,
    result<K extends keyof R & string>(name: K): R[K] {
      if (!upstream.has(name)) {
        throw new Error(`stage ${stage} reads the result of ${name}, which is not upstream of it (upstream: ${[...upstream].join(', ') || 'none'})`);
      }
      return outcomes.get(name)!.result as R[K];
    },
  };
}

function summarize<R>(
  workflow: string,
  run: string,
  outcomes: ReadonlyMap<string, StageOutcome>,
  durationMs: number,
  completion: RunResult<R>['completion'],
  cancelled: boolean,
): RunResult<R> {
  const all = [...outcomes.values()];
  const status: RunStatus = cancelled ? 'cancelled' : all.every((o) => o.status === 'done') ? 'done' : 'failed';
  const results: Record<string, unknown> = {};
  for (const o of all) if (o.status === 'done') results[o.name] = o.result;
  const costs = all.flatMap((o) => (o.costUsd === undefined ? [] : [o.costUsd]));
  return {
    run,
    workflow,
    status,
    results: results as Partial<R>,
    stages: Object.fromEntries(outcomes) as RunResult<R>['stages'],
    tokens: {
      prompt: all.reduce((n, o) => n + o.tokens.prompt, 0),
      completion: all.reduce((n, o) => n + o.tokens.completion, 0),
      cached: all.reduce((n, o) => n + o.tokens.cached, 0),
    },
    ...(costs.length > 0 ? { costUsd: costs.reduce((a, b) => a + b, 0) } : {}),
    durationMs,
    completion,
  };
}
