import type { BackendConfig } from '../config/schema.js';
import type { Replica } from './replica.js';
import type { Lease, Ticket } from './ticket.js';

/** What `GET /v1/backends` shows of a backend. */
export interface BackendSnapshot {
  name: string;
  engine: string;
  max_concurrency: number;
  queue_limit: number;
  /** What this gateway may use of them now (all of them, unless it shares them with a fleet). */
  gateway_share?: { max_concurrency: number; queue_limit: number };
  waiting: number;
  estimated_wait_ms: number | null;
  queues: Record<string, number>;
  replicas: { url: string; in_flight: number; circuit: string }[];
}

/**
 * A backend as the request path uses it: admission and the wait for a slot (`acquire`), what mappers
 * and rerouting read of its load, its replicas' clients. `Backend` (backend.ts) holds its queue in
 * this process; the Workers entry's RemoteBackend (gateway/workers/) holds it in a Durable Object,
 * so that limits hold across isolates. Its load figures may then be as of its latest answer.
 */
export interface AdmissionBackend {
  readonly name: string;
  readonly config: BackendConfig;
  readonly replicas: readonly Replica[];
  /** Requests waiting for a slot. */
  readonly queued: number;
  /** No replica can take a request now or after a probe delay: every circuit is open. */
  circuitOpen(now?: number): boolean;
  /** How long a new request would wait, from the recent drain rate (Infinity until it is known). */
  estimatedWaitMs(): number;
  /** Admission, then the wait for a slot; the lease is the caller's to release. */
  acquire(ticket: Ticket): Promise<Lease>;
  /** Takes effect at once: a higher limit dispatches waiting requests now. */
  setMaxConcurrency(limit: number): void | Promise<void>;
  snapshot(): BackendSnapshot | Promise<BackendSnapshot>;
}
