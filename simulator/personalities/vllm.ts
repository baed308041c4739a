// vLLM's OpenAI server (checked against vllm main, 2026: entrypoints/openai/api_server.py,
// chat_completion/serving.py, completion/serving.py, engine/serving.py, v1/engine/processor.py).
// What differs from the simulator's own default:
// - no /flush_cache and no /v1/sessions/*: FastAPI's 404;
// - /reset_prefix_cache is registered only in dev mode (VLLM_SERVER_DEV_MODE=1), else 404;
// - usage.prompt_tokens_details only with --enable-prompt-tokens-details, and only when something
//   was cached (`if self.enable_prompt_tokens_details and num_cached_tokens:`);
// - `priority` needs --scheduling-policy priority ("Got priority 5 but Priority scheduling is not
//   enabled.", a 400); with it, the LOWER value is served first (the scheduler's heap on (priority, arrival)).
import type { ServerResponse } from 'node:http';
import type { Engine, GenerationRequest } from '../engine.js';
import { badRequest, type SimulatorError } from '../errors.js';
import { SimulatorMetrics } from '../metrics.js';
import { vllmUsage } from '../usage.js';
import type { Json, SamplingRequest } from '../validate.js';
import { fastapiNotFound, resetPrefixCache, serveMetrics, vllmErrorBody, vllmStreamError } from './common.js';
import type { Admission, Personality, RouteRequest } from './personality.js';

export interface VllmOptions {
  /** --enable-prompt-tokens-details: report usage.prompt_tokens_details.cached_tokens (when > 0). */
  enablePromptTokensDetails?: boolean;
  /** VLLM_SERVER_DEV_MODE=1: registers the dev routes, among them POST /reset_prefix_cache. */
  devMode?: boolean;
  /** --scheduling-policy: 'fcfs' (vLLM's default) refuses any non-zero priority; 'priority' serves lower values first. */
  schedulingPolicy?: 'fcfs' | 'priority';
}

export class VllmPersonality implements Personality {
  readonly name = 'vllm' as const;
  readonly usage;
  private readonly metrics: SimulatorMetrics;

  constructor(
    private readonly engine: Engine,
    modelName: string,
    private readonly options: VllmOptions,
  ) {
    this.usage = vllmUsage(options.enablePromptTokensDetails ?? false);
    this.metrics = new SimulatorMetrics(engine, modelName);
  }

  refuse(): boolean {
    return false;
  }

  route({ res, method, path }: RouteRequest): boolean {
    if (path === '/metrics' && method === 'GET') {
      void serveMetrics(res, () => this.metrics.render(), this.metrics.contentType);
      return true;
    }
    if (path === '/reset_prefix_cache' && method === 'POST' && this.options.devMode) {
      resetPrefixCache(this.engine, res);
      return true;
    }
    return false;
  }

  notFound(res: ServerResponse): void {
    fastapiNotFound(res);
  }

  errorBody(error: SimulatorError): string {
    return vllmErrorBody(error);
  }

  streamError(message: string): string {
    return vllmStreamError(message);
  }

  admit(_body: Json, sampling: SamplingRequest): Admission {
    if (sampling.priority !== 0 && this.options.schedulingPolicy !== 'priority') {
      throw badRequest(null, `Got priority ${sampling.priority} but Priority scheduling is not enabled.`);
    }
    // The engine admits higher first; vLLM's policy serves lower values first.
    return { priority: -sampling.priority };
  }

  submit(engine: Engine, request: GenerationRequest) {
    return engine.submit(request);
  }
}
