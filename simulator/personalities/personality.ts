// An engine personality: what makes the simulator answer as vLLM, SGLang or llama.cpp rather than
// as itself. The server and the generation path consult it at a few fixed points, each O(1) per
// request (a route lookup, one admission check, one submit, one usage report); nothing per token.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine, GenerationHandle, GenerationRequest } from '../engine.js';
import type { SimulatorError } from '../errors.js';
import type { Endpoint } from '../exchange.js';
import type { UsageReport } from '../usage.js';
import type { Json, SamplingRequest } from '../validate.js';

export const PERSONALITY_NAMES = ['simulator', 'vllm', 'sglang', 'llamacpp'] as const;
export type PersonalityName = (typeof PERSONALITY_NAMES)[number];

/** One HTTP request as the server parsed it, handed to a personality's routes. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  /** Reads the body as a JSON object (a bad body gets the personality's 400), then calls `onBody`. */
  readJson(onBody: (body: Json) => void, options?: { optional?: boolean }): void;
}

/** What the engine is asked to do for one generation request, as the personality decides it. */
export interface Admission {
  /** The engine's priority: higher is admitted first (a personality maps its engine's convention). */
  priority: number;
  pin?: GenerationRequest['pin'];
  /** Replaces the request's cache_salt (llama.cpp: the slot's own cache). */
  cacheSalt?: string;
}

/** Refused by the engine after a stream may already have started (SGLang rejects a bad session inside the 200 stream). */
export class StreamRejection extends Error {
  constructor(readonly error: SimulatorError) {
    super(error.message);
  }
}

export interface Personality {
  readonly name: PersonalityName;
  readonly usage: UsageReport;
  /** Serves any `model` name (llama-server has one model and does not check the field). */
  readonly anyModel?: boolean;
  /** GET /v1/models in this engine's shape (default: vLLM's model cards). */
  modelList?(models: readonly string[], maxModelLen: number): unknown;
  /** GET /health's answer (default: an empty 200, as vLLM and SGLang give). */
  health?(res: ServerResponse): void;
  /** Refuses a request before routing (an API key), writing the answer itself; true when refused. */
  refuse(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  /** Serves the routes this engine has beyond generation, health and models; false when none matches. */
  route(request: RouteRequest): boolean;
  /** The answer to a path no route serves. */
  notFound(res: ServerResponse): void;
  /** The answer to a generation route asked with another method than POST (default: FastAPI's 405). */
  wrongMethod?(res: ServerResponse): void;
  /** The engine's error body for `error` on `endpoint` (undefined: not a generation route). */
  errorBody(error: SimulatorError, endpoint?: Endpoint): string;
  /** The engine's mid-stream error event and what it writes after it, for the error-after fault. */
  streamError(message: string, endpoint: Endpoint): string;
  /** Per generation request: priority, pins, salt; throws SimulatorError (or StreamRejection) to refuse. */
  admit(body: Json, sampling: SamplingRequest, endpoint: Endpoint): Admission;
  /** Hands the request to the engine: at once, or when a slot frees (llama.cpp). */
  submit(engine: Engine, request: GenerationRequest, body: Json): GenerationHandle;
  close?(): void;
}
