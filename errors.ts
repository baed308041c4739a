// Errors are values with a type and an HTTP status; this one module builds every OpenAI error envelope
// `{"error": {"message", "type", "code", "param"}}` the gateway returns.

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'timeout_error'
  | 'request_cancelled'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'service_unavailable_error';

export interface OrlaErrorInit {
  type: ErrorType;
  code?: string | null;
  param?: string | null;
  /** Seconds; sent as `Retry-After`, with `x-should-retry: true`. */
  retryAfterS?: number;
  /** Whether the OpenAI clients should retry (their `x-should-retry` header). */
  retryable?: boolean;
}

export class OrlaError extends Error {
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly retryAfterS: number | undefined;
  readonly retryable: boolean;

  constructor(readonly status: number, message: string, init: OrlaErrorInit) {
    super(message);
    this.name = 'OrlaError';
    this.type = init.type;
    this.code = init.code ?? null;
    this.param = init.param ?? null;
    this.retryAfterS = init.retryAfterS;
    this.retryable = init.retryable ?? init.retryAfterS !== undefined;
  }

  body(): string {
    return JSON.stringify({ error: { message: this.message, type: this.type, code: this.code, param: this.param } });
  }

  headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.retryAfterS !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(this.retryAfterS)));
    headers['x-should-retry'] = String(this.retryable);
    return headers;
  }
}

export const badRequest = (message: string, param: string | null = null, code = 'invalid_value') =>
  new OrlaError(400, message, { type: 'invalid_request_error', param, code });

export const unauthorized = (message: string) =>
  new OrlaError(401, message, { type: 'authentication_error', code: 'invalid_api_key' });

export const forbidden = (message: string) =>
  new OrlaError(403, message, { type: 'permission_error', code: 'forbidden' });

export const notFound = (message: string, code = 'not_found', param: string | null = null) =>
  new OrlaError(404, message, { type: 'not_found_error', code, param });

export const payloadTooLarge = (limitBytes: number) =>
  new OrlaError(413, `request body is larger than the limit of ${limitBytes} bytes`, {
    type: 'invalid_request_error',
    code: 'body_too_large',
  });

export const unsupportedMediaType = (got: string | undefined) =>
  new OrlaError(415, `request body must be JSON (content-type: application/json), got ${got ? `"${got}"` : 'none'}`, {
    type: 'invalid_request_error',
    code: 'unsupported_media_type',
  });

export const deadlineExceeded = (deadlineMs: number) =>
  new OrlaError(408, `not dispatched within the deadline of ${deadlineMs} ms (X-Orla-Deadline-Ms)`, {
    type: 'timeout_error',
    code: 'deadline_exceeded',
    param: 'x-orla-deadline-ms',
  });

export const queueFull = (backend: string, retryAfterS: number) =>
  new OrlaError(429, `backend ${backend} has too many requests waiting; retry later`, {
    type: 'rate_limit_error',
    code: 'queue_full',
    retryAfterS,
  });

export const tenantQueueFull = (tenant: string) =>
  new OrlaError(429, `tenant ${tenant} has too many requests waiting; retry later`, {
    type: 'rate_limit_error',
    code: 'tenant_queue_full',
    retryAfterS: 1,
  });

/** The client went away; nothing is sent (499 is nginx's name for it, used only in logs and metrics). */
export const clientClosed = () => new OrlaError(499, 'client closed the request', { type: 'request_cancelled', code: 'client_closed' });

export const upstreamFailed = (message: string) =>
  new OrlaError(502, message, { type: 'upstream_error', code: 'upstream_failed', retryAfterS: 1 });

export const upstreamTimeout = (message: string) =>
  new OrlaError(504, message, { type: 'timeout_error', code: 'upstream_timeout', retryAfterS: 1 });

export const unavailable = (message: string, retryAfterS = 1) =>
  new OrlaError(503, message, { type: 'service_unavailable_error', code: 'unavailable', retryAfterS });

export const internalError = () =>
  new OrlaError(500, 'internal error in the gateway', { type: 'upstream_error', code: 'internal_error' });

/** Any thrown value as an OrlaError; unknown errors become a 500 that reveals nothing of their content. */
export function asOrlaError(err: unknown): OrlaError {
  return err instanceof OrlaError ? err : internalError();
}
