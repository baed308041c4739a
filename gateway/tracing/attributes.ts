import { SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import type { Config } from '../../config/schema.js';
import type { ErrorType } from '../../errors.js';
import type { TokenUsage } from '../../routing/cost.js';
import type { RouteKind } from '../validate.js';

// What the spans of a call say, in the GenAI semantic conventions' words where they have one.

/** gen_ai.operation.name per route. */
export const OPERATION: Record<RouteKind, string> = { chat: 'chat', completions: 'text_completion', responses: 'chat', embeddings: 'embeddings' };

/** Per configured stage and backend: the stage scheduler and the stage's request scheduler, as `orla.queue.policy`. */
export function queuePolicies(config: Config): (stage: string, backend: string) => string {
  const known = new Map<string, string>();
  return (stage, backend) => {
    const key = `${stage}\0${backend}`;
    let policy = known.get(key);
    if (policy === undefined) {
      const stagePolicy = config.backends[backend]?.scheduler ?? config.scheduler.stage;
      const requestPolicy = config.stages[stage]?.scheduler ?? config.scheduler.request ?? stagePolicy;
      known.set(key, (policy = `stage=${stagePolicy} request=${requestPolicy}`));
    }
    return policy;
  };
}

/** traceparent and tracestate naming `span` as the parent of what the receiver does. */
export function propagation(span: Span): Record<string, string> {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext();
  const headers: Record<string, string> = { traceparent: `00-${traceId}-${spanId}-0${(traceFlags & 1).toString(16)}` };
  const state = traceState?.serialize();
  if (state) headers.tracestate = state;
  return headers;
}

export function usageAttributes(usage: TokenUsage | undefined): Attributes {
  if (!usage) return {};
  return {
    'gen_ai.usage.input_tokens': usage.promptTokens,
    'gen_ai.usage.output_tokens': usage.completionTokens,
    'gen_ai.usage.cache_read.input_tokens': usage.cachedTokens,
  };
}

/** The span failed with an OpenAI error type (its status message and `error.type`). */
export function fail(span: Span, type: string): void {
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/** The OpenAI error type of a status the engine or Orla answered (as errors.ts assigns them). */
export function typeOfStatus(status: number): ErrorType {
  switch (status) {
    case 400: case 413: case 415: case 422: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 408: case 504: return 'timeout_error';
    case 429: return 'rate_limit_error';
    case 503: return 'service_unavailable_error';
    default: return status >= 500 ? 'upstream_error' : 'invalid_request_error';
  }
}
