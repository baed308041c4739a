import { OrlaError, type ErrorType } from '../errors.js';

// How engines report failures, read so that Orla counts them where they belong: an error event
// inside a 200 stream is a failed call (circuit, metrics, logs, run record), and an error body that
// is not OpenAI's envelope (FastAPI's `{"detail": …}`) is wrapped in one before the client sees it.

/**
 * Event openings that only an error event has. A JSON string cannot hold an unescaped `"`, so none
 * of these can appear inside content. vLLM, SGLang and llama.cpp write `data: {"error": {…}}`
 * (Python's json.dumps puts a space after the colon); the Responses API writes an `error` or a
 * `response.failed` event.
 */
export const STREAM_ERROR_MARKS = ['{"error"', '"type":"error"', '"type":"response.failed"'] as const;

/**
 * The error an engine reported in one SSE event, as the error the call failed with (for the circuit,
 * the metrics, the log and the run record; the client has the event itself). Its status and type
 * only: an engine's message may quote the prompt, and content never goes to the log.
 */
export function streamError(event: string, backend: string): OrlaError {
  const data = parseData(event) as { error?: unknown; response?: { error?: unknown }; message?: unknown; code?: unknown } | undefined;
  const detail = (data?.error ?? data?.response?.error ?? data) as { type?: unknown; code?: unknown } | undefined;
  const status = statusOf(detail?.code);
  const kind = typeof detail?.code === 'string' ? detail.code : typeof detail?.type === 'string' ? detail.type : undefined;
  return new OrlaError(status, `backend ${backend}: the engine reported an error mid-stream${kind ? ` (${kind.slice(0, 64)})` : ''}`, {
    type: status < 500 ? 'invalid_request_error' : 'upstream_error',
    code: 'upstream_stream_error',
  });
}

/**
 * An engine's error answer in OpenAI's envelope: unchanged when it already is one, else wrapped with
 * what the engine said (`{"detail": "Not Found"}` from a route it does not serve, say). The status
 * stays the engine's.
 */
export function inEnvelope(status: number, body: string, backend: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const error = (parsed as { error?: unknown } | undefined)?.error;
  if (error !== null && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return undefined;
  const detail = (parsed as { detail?: unknown } | undefined)?.detail ?? (typeof error === 'string' ? error : undefined) ?? body.trim();
  const said = (typeof detail === 'string' ? detail : JSON.stringify(detail)).slice(0, 500);
  return new OrlaError(status, `backend ${backend}: the engine answered ${status}${said ? `: ${said}` : ''}`, {
    type: TYPE_BY_STATUS[status] ?? (status >= 500 ? 'upstream_error' : 'invalid_request_error'),
    code: `upstream_${status}`,
  }).body();
}

const TYPE_BY_STATUS: Record<number, ErrorType> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  429: 'rate_limit_error',
  503: 'service_unavailable_error',
  504: 'timeout_error',
};

/** An engine's error code as an HTTP status: vLLM and llama.cpp put the status there; anything else is the engine's failure. */
function statusOf(code: unknown): number {
  const n = typeof code === 'string' ? Number(code) : code;
  return typeof n === 'number' && Number.isInteger(n) && n >= 400 && n <= 599 ? n : 502;
}

/** The JSON of an SSE event's `data:` lines (joined, as the spec says), or undefined. */
function parseData(event: string): unknown {
  const data = event
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(line[5] === ' ' ? 6 : 5))
    .join('\n');
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
