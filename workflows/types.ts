import type { OpenAI } from 'openai';
import type { GatewayReport } from './wire.js';

// What a workflow author writes: stages keyed by name, each a prompt builder plus optional
// structured output, tools and scheduling hints. The library only needs the `openai` types here;
// the caller brings the client.

export type ChatMessage = OpenAI.ChatCompletionMessageParam;
export type ToolChoice = OpenAI.ChatCompletionToolChoiceOption;
export type JsonSchema = Record<string, unknown>;
/** The stage-level hint of `X-Orla-Cache` (DESIGN.md, "The wire protocol"). */
export type CacheHint = 'preserve' | 'flush' | 'auto';

/** What a stage's builders and hints see. */
export interface StageContext<I, R> {
  readonly run: string;
  readonly stage: string;
  readonly input: I;
  /** The result of a stage upstream (in `after`, or theirs, …). Throws for any other: it may not have run yet. */
  result<K extends keyof R & string>(name: K): R[K];
  readonly signal: AbortSignal;
}

export interface ToolContext {
  readonly run: string;
  readonly stage: string;
  readonly signal: AbortSignal;
}

export interface Tool {
  name: string;
  description?: string;
  /** JSON schema of the arguments object, sent to the model as the function's `parameters`. */
  parameters: JsonSchema;
  /** Runs a call; a string is sent back as is, anything else as JSON. A throw goes back to the model as an error. */
  run(args: Record<string, unknown>, ctx: ToolContext): unknown;
}

/** A value, or a function of the stage's context (e.g. a priority computed from upstream results). */
export type FromContext<T, I, R> = T | ((ctx: StageContext<I, R>) => T);

export interface StageSpec<I, R, K extends keyof R> {
  /** Stages whose results this one needs; it starts when all of them are done. */
  after?: readonly (keyof R & string)[];
  /** The conversation's opening messages. */
  messages(ctx: StageContext<I, R>): ChatMessage[] | Promise<ChatMessage[]>;
  /** Sent as a `json_schema` response_format; the final answer is then parsed as JSON. */
  responseFormat?: { name: string; schema: JsonSchema; strict?: boolean };
  /** The tools the model may call; a function can fit them to the run (e.g. narrow an enum to upstream results). */
  tools?: FromContext<readonly Tool[], I, R>;
  /** Model calls allowed (the agent loop's turn limit). Default: 1 without tools, 8 with. */
  maxTurns?: number;
  /** Per turn (0-based): force a tool, or let the model choose (undefined: the API's default). */
  toolChoice?: ToolChoice | ((turn: number, ctx: StageContext<I, R>) => ToolChoice | undefined);
  /** `X-Orla-Priority`: higher is served first under a priority scheduler. */
  priority?: FromContext<number | undefined, I, R>;
  /** `X-Orla-Cache`. */
  cache?: FromContext<CacheHint | undefined, I, R>;
  /** The request's `model`; the gateway's stage mapping usually replaces it. Default: the run's model. */
  model?: string;
  /** Other request fields (temperature, max_tokens, …). */
  params?: Record<string, unknown>;
  /** Turns the final answer into the stage's result. Default: parsed JSON with a responseFormat, else the text. */
  output?(text: string, ctx: StageContext<I, R>): R[K];
}

/** A workflow's stages, keyed by name: the name is the gateway stage (`X-Orla-Stage`). */
export type StageMap<I, R> = { [K in keyof R & string]: StageSpec<I, R, K> };

export type StageStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'cancelled';
export type RunStatus = 'done' | 'failed' | 'cancelled';

export interface Tokens {
  prompt: number;
  completion: number;
  /** Prompt tokens the engine served from its prefix cache. */
  cached: number;
}

/** One model call, with what the gateway said about it in its response headers. */
export interface CallRecord extends GatewayReport {
  turn: number;
  model: string;
  /** The tags sent. */
  priority?: number;
  cacheHint?: CacheHint;
  tokens: Tokens;
  durationMs: number;
  finishReason: string;
  /** Names of the tools the model asked for. */
  toolCalls: string[];
}

export interface ToolCallRecord {
  id: string;
  turn: number;
  name: string;
  /** As the model sent them (JSON text). */
  args: string;
  ok: boolean;
  /** What went back to the model. */
  output: string;
  durationMs: number;
}

/** `dependency`: not run because a dependency did not finish. */
export type StageErrorKind = 'api' | 'connection' | 'build' | 'output' | 'turn_limit' | 'dependency' | 'cancelled' | 'internal';

export interface StageError {
  kind: StageErrorKind;
  message: string;
  /** HTTP status and OpenAI error code, for an error answer from the gateway. */
  status?: number;
  code?: string;
}

export interface StageOutcome<T = unknown> {
  name: string;
  status: StageStatus;
  after: readonly string[];
  result?: T;
  error?: StageError;
  priority?: number;
  cache?: CacheHint;
  calls: CallRecord[];
  tools: ToolCallRecord[];
  tokens: Tokens;
  /** Sum of the calls' `X-Orla-Cost-Usd`; absent when the gateway sent none. */
  costUsd?: number;
  /** Milliseconds since the run started. */
  startedMs?: number;
  finishedMs?: number;
}

/** The answer of `POST /v1/workflows/{run}/complete`, which releases the run's cache. */
export interface Completion {
  ok: boolean;
  status?: number;
  message?: string;
}

export interface RunResult<R> {
  run: string;
  workflow: string;
  status: RunStatus;
  /** Results of the stages that finished. */
  results: Partial<R>;
  stages: { [K in keyof R & string]: StageOutcome<R[K]> };
  tokens: Tokens;
  costUsd?: number;
  durationMs: number;
  completion: Completion;
}
