// One workflow run on one stack: every step as soon as its dependencies are done, the sink marked as
// the run's end, each call timed on the client and recorded with its usage.
import { createHash } from 'node:crypto';
import { sinkOf, stepKind, stepMessages, type Problem, type PromptForm, type Step, type StepKind } from '../workloads/dag-math.js';
import { streamChat } from '../workloads/stream.js';
import { MODEL, type PolicyName, type Stack } from './stacks.js';

export const OUTPUT_TOKENS = 256;

export interface Call {
  policy: PolicyName;
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

export interface RunOptions {
  /** Engine seconds per wall second: client times are scaled by it. */
  speed: number;
  form: PromptForm;
}

export async function runProblem(stack: Stack, problem: Problem, options: RunOptions): Promise<Call[]> {
  const run = `${stack.policy.name}-${problem.id}`;
  const sink = sinkOf(problem);
  const results = new Map<string, string>();
  const calls: Call[] = [];
  const started = new Set<string>();
  const call = async (step: Step): Promise<void> => {
    const headers: Record<string, string> = { 'x-orla-workflow-run': run, 'x-orla-stage': step.id };
    if (step === sink) headers['x-orla-workflow-done'] = 'true';
    const messages = stepMessages(problem, step, results, options.form);
    const body = { model: MODEL, messages, max_tokens: OUTPUT_TOKENS, ignore_eos: true, temperature: 0 };
    const res = await streamChat(stack.pool, body, headers, true);
    if (res.status !== 200 || res.error) throw new Error(`${run} ${step.id}: ${res.error ?? res.status}`);
    // The exact streamed text: the chat form sends it back as the assistant turn.
    results.set(step.id, res.text);
    calls.push({
      policy: stack.policy.name,
      problem: problem.id,
      shape: problem.shape,
      step: step.id,
      kind: stepKind(problem, step),
      root: step.after.length === 0,
      ttftMs: res.ttftMs * options.speed,
      e2eMs: res.e2eMs * options.speed,
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
