import { clientClosed } from '../errors.js';
import type { Lease, Ticket } from './backend.js';
import type { AdmissionBackend } from './admission-backend.js';
import type { Replica } from './backend.js';
import type { AbortLike } from '../cancel.js';
import type { UpstreamRequest, UpstreamResponse } from '../upstream/clients/types.js';

/** Statuses worth another try elsewhere: the engine is overloaded or a proxy in front of it failed. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** Failures before the engine could have started work. */
const RETRYABLE_ERROR = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** What tracing hears of a dispatch (gateway/tracing/): each attempt's wait for a slot, and each retry. */
export interface DispatchObserver {
  /** An attempt is about to ask its backend for a slot. */
  acquiring?(): void;
  /** An attempt failed and another follows; `reason` is the engine's status or the error's code. */
  retrying?(reason: string): void;
}

export interface Dispatched {
  lease: Lease;
  response: UpstreamResponse;
  attempts: number;
}

/**
 * Waits for a slot, sends, and on a connect error or a retryable status tries again (backoff, another
 * replica if one is free), all before any byte has reached the client. The lease is the caller's
 * to release once the response is complete. `prepare` builds each attempt's request for the replica
 * it got: what it throws is Orla's (or the client's) failure, never the replica's, so it frees the
 * slot without counting against the circuit.
 */
export async function dispatch(backend: AdmissionBackend, ticket: Ticket, prepare: (replica: Replica, lease: Lease) => UpstreamRequest, observer?: DispatchObserver): Promise<Dispatched> {
  const { attempts: retries, backoff_ms: backoffMs } = backend.config.retries;
  for (let attempt = 0; ; attempt++) {
    observer?.acquiring?.();
    const lease = await backend.acquire(attempt === 0 ? ticket : { ...ticket, deadlineMs: undefined });
    let request: UpstreamRequest;
    try {
      request = prepare(lease.replica, lease);
    } catch (err) {
      lease.release('neutral');
      throw err;
    }
    let response: UpstreamResponse;
    try {
      response = await lease.replica.client.request(request);
    } catch (err) {
      if (ticket.signal?.aborted) {
        lease.release('neutral');
        throw clientClosed();
      }
      lease.release('failure');
      if (attempt >= retries || !RETRYABLE_ERROR.has(errorCode(err))) {
        throw lease.replica.client.describeError(err, backend.name);
      }
      observer?.retrying?.(errorCode(err) || 'error');
      ticket = { ...ticket, avoid: lease.replica };
      await backoff(backoffMs, attempt, ticket.signal);
      continue;
    }
    if (response.status >= 500 || response.status === 429) {
      if (attempt < retries && RETRYABLE_STATUS.has(response.status)) {
        response.cancel();
        lease.release('failure');
        observer?.retrying?.(String(response.status));
        ticket = { ...ticket, avoid: lease.replica };
        await backoff(backoffMs, attempt, ticket.signal);
        continue;
      }
    }
    return { lease, response, attempts: attempt + 1 };
  }
}

/** undici puts the code on the error; fetch wraps it (`TypeError: fetch failed`, code on `cause`). */
function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : '';
}

/** Exponential with full jitter; a client that leaves ends the wait. */
function backoff(baseMs: number, attempt: number, signal: AbortLike | undefined): Promise<void> {
  const ms = Math.random() * baseMs * 2 ** attempt;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(clientClosed());
    const onAbort = () => {
      clearTimeout(timer);
      reject(clientClosed());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
