import type { OpenAI } from 'openai';
import { callTurn } from './call.js';
import type { Emit } from './events.js';
import { runToolCalls } from './tools.js';
import type { ChatMessage, StageContext, StageError, StageOutcome, StageSpec, ToolChoice } from './types.js';

// One stage: build its conversation, then the agent loop (call the model; run the tools it asks
// for; call again with their results) until the model answers or the turn limit is reached.

export interface StageRun<I, R> {
  client: OpenAI;
  model: string;
  spec: StageSpec<I, R, keyof R>;
  ctx: StageContext<I, R>;
  emit: Emit;
  /** Milliseconds since the run started. */
  clock: () => number;
}

/** Stage failures of our own making, with the kind the outcome reports. */
class StageFailure extends Error {
  constructor(
    readonly kind: StageError['kind'],
    message: string,
  ) {
    super(message);
  }
}

/** Never rejects: failures and cancellation end up in the outcome. */
export async function runStage<I, R>(job: StageRun<I, R>, outcome: StageOutcome): Promise<StageOutcome> {
  const { spec, ctx, emit } = job;
  outcome.status = 'running';
  outcome.startedMs = job.clock();
  try {
    const priority = typeof spec.priority === 'function' ? spec.priority(ctx) : spec.priority;
    const cache = typeof spec.cache === 'function' ? spec.cache(ctx) : spec.cache;
    if (priority !== undefined) outcome.priority = priority;
    if (cache !== undefined) outcome.cache = cache;
    emit({ type: 'stage_started', stage: ctx.stage, ...(priority !== undefined ? { priority } : {}), ...(cache !== undefined ? { cache } : {}) });

    const text = await agentLoop(job, outcome, await buildMessages(job));
    outcome.result = parseOutput(job, text);
    outcome.status = 'done';
  } catch (err) {
    outcome.status = ctx.signal.aborted ? 'cancelled' : 'failed';
    outcome.error = ctx.signal.aborted ? { kind: 'cancelled', message: 'the run was cancelled' } : describeError(err);
  }
  outcome.finishedMs = job.clock();
  return outcome;
}

async function buildMessages<I, R>({ spec, ctx }: StageRun<I, R>): Promise<ChatMessage[]> {
  try {
    return [...(await spec.messages(ctx))];
  } catch (err) {
    throw new StageFailure('build', `building the messages failed: ${(err as Error).message}`);
  }
}

async function agentLoop<I, R>(job: StageRun<I, R>, outcome: StageOutcome, messages: ChatMessage[]): Promise<string> {
  const { spec, ctx, emit } = job;
  const tools = (typeof spec.tools === 'function' ? spec.tools(ctx) : spec.tools) ?? [];
  const maxTurns = spec.maxTurns ?? (tools.length > 0 ? 8 : 1);
  const tags = { run: ctx.run, stage: ctx.stage, priority: outcome.priority, cache: outcome.cache };
  for (let turn = 0; turn < maxTurns; turn++) {
    const toolChoice: ToolChoice | undefined = typeof spec.toolChoice === 'function' ? spec.toolChoice(turn, ctx) : spec.toolChoice;
    emit({ type: 'call_started', stage: ctx.stage, turn });
    const answer = await callTurn(
      job.client,
      turn,
      {
        model: spec.model ?? job.model,
        messages,
        ...(tools.length > 0 ? { tools } : {}),
        ...(toolChoice !== undefined ? { toolChoice } : {}),
        ...(spec.responseFormat ? { responseFormat: spec.responseFormat } : {}),
        ...(spec.params ? { params: spec.params } : {}),
      },
      tags,
      ctx.signal,
    );
    addCall(outcome, answer.record);
    emit({ type: 'call_finished', stage: ctx.stage, call: answer.record });

    if (answer.toolCalls.length === 0 || tools.length === 0) return answer.text;
    // The last allowed turn's tool calls are not run: no model would ever read their results.
    if (turn === maxTurns - 1) break;
    messages.push(answer.message);
    const done = await runToolCalls(tools, answer.toolCalls, turn, { run: ctx.run, stage: ctx.stage, signal: ctx.signal }, emit);
    outcome.tools.push(...done.records);
    messages.push(...done.messages);
  }
  throw new StageFailure('turn_limit', `no final answer within ${maxTurns} turn${maxTurns === 1 ? '' : 's'}: the model still asked for tools`);
}

function addCall(outcome: StageOutcome, call: StageOutcome['calls'][number]): void {
  outcome.calls.push(call);
  outcome.tokens.prompt += call.tokens.prompt;
  outcome.tokens.completion += call.tokens.completion;
  outcome.tokens.cached += call.tokens.cached;
  if (call.costUsd !== undefined) outcome.costUsd = (outcome.costUsd ?? 0) + call.costUsd;
}

function parseOutput<I, R>({ spec, ctx }: StageRun<I, R>, text: string): unknown {
  try {
    if (spec.output) return spec.output(text, ctx);
    return spec.responseFormat ? (JSON.parse(text) as unknown) : text;
  } catch (err) {
    throw new StageFailure('output', `the answer is not a valid result: ${(err as Error).message}`);
  }
}

/** The gateway's OpenAI error envelope (status, code) when there is one; a plain message otherwise. */
function describeError(err: unknown): StageError {
  if (err instanceof StageFailure) return { kind: err.kind, message: err.message };
  const e = (err ?? {}) as { status?: unknown; code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (typeof e.status === 'number') {
    return { kind: 'api', message, status: e.status, ...(typeof e.code === 'string' ? { code: e.code } : {}) };
  }
  // The openai client's connection errors keep the name "Error"; their class names them.
  const className = (e as object).constructor?.name ?? '';
  if (className.startsWith('APIConnection')) return { kind: 'connection', message };
  return { kind: 'internal', message };
}
