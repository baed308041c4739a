import { clientClosed, upstreamTimeout } from '../errors.js';
import type { Ticket } from './backend.js';
import type { AdmissionBackend } from './admission-backend.js';
import type { TokenUsage } from './cost.js';
import { dispatch } from './dispatch.js';
import { authorization } from '../upstream/engines/index.js';

/** A request Orla makes on its own behalf (a classifier's call), in a backend's queue like any other. */
export interface InternalCall {
  /** Its own stage name gives it its own sub-queue: visible in /v1/backends and metrics, and scheduled. */
  ticket: Omit<Ticket, 'signal' | 'deadlineMs' | 'avoid'>;
  path: string;
  body: Readonly<Record<string, unknown>>;
  /** Covers the whole call: the wait for a slot, the engine's answer and reading it. */
  timeoutMs: number;
  /** The client request it serves: when that client leaves, the call is dropped too. */
  signal?: AbortSignal | undefined;
  /** Sent along (a traceparent). */
  headers?: Record<string, string> | undefined;
}

export interface InternalResponse {
  status: number;
  /** The parsed JSON body; undefined when the body is not JSON. */
  json: unknown;
  usage: TokenUsage | undefined;
}

/**
 * Sends one internal call through `dispatch` (queue, replica choice, retries) and reads the whole
 * answer. Its slot is always freed, also on timeout. Throws an OrlaError: 504 when the timeout
 * passed, 499 when the client left, otherwise what the queue or the engine failed with (429, 502, 503…).
 */
export async function callBackend(backend: AdmissionBackend, call: InternalCall): Promise<InternalResponse> {
  const timer = new AbortController();
  let timedOut = false;
  const timeout = setTimeout(() => {
    timedOut = true;
    timer.abort();
  }, call.timeoutMs);
  const signal = call.signal ? AbortSignal.any([call.signal, timer.signal]) : timer.signal;
  const headers = { ...call.headers, 'content-type': 'application/json', 'accept-encoding': 'identity', ...authorization(backend.config.api_key) };
  const body = JSON.stringify(call.body);
  try {
    const { lease, response } = await dispatch(backend, { ...call.ticket, signal }, () => ({ method: 'POST', path: call.path, headers, body, signal }));
    let text: string;
    try {
      text = new TextDecoder().decode(await response.readAll());
    } catch (err) {
      lease.release(signal.aborted ? 'neutral' : 'failure');
      throw signal.aborted ? clientClosed() : lease.replica.client.describeError(err, backend.name);
    }
    const json = parseJson(text);
    const usage = response.status < 300 ? usageIn(json) : undefined;
    lease.release(response.status >= 500 ? 'failure' : 'success', usage ? usage.promptTokens + usage.completionTokens : undefined);
    return { status: response.status, json, usage };
  } catch (err) {
    // The queue and the client report an abort as "client closed": say which abort it was.
    if (timedOut && !call.signal?.aborted) {
      throw upstreamTimeout(`backend ${backend.name}: no answer to stage ${call.ticket.stage} within ${call.timeoutMs} ms`);
    }
    throw err;
  } finally {
    clearTimeout(timeout);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function usageIn(json: unknown): TokenUsage | undefined {
  const usage = (json as { usage?: Record<string, unknown> } | undefined)?.usage;
  if (!usage || typeof usage !== 'object') return undefined;
  const details = usage.prompt_tokens_details as { cached_tokens?: unknown } | null | undefined;
  return { promptTokens: count(usage.prompt_tokens), completionTokens: count(usage.completion_tokens), cachedTokens: count(details?.cached_tokens) };
}

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
