import type { AbortLike } from '../cancel.js';
import type { Replica } from './replica.js';

/** What a request brings to a backend's queue. */
export interface Ticket {
  /**
   * The configured stage it maps to: the queue it waits in, with that stage's policy and weight. Never
   * a name the client chose: queues (and their shares under `fair`) are bounded by the config.
   */
  stage: string;
  run: string | undefined;
  /** The tenant of the request's key: tenants share a saturated backend by their weights. */
  tenant?: string | undefined;
  priority: number;
  promptTokens: number;
  /** X-Orla-Deadline-Ms: not dispatched this long after `arrivedAt` → 408. */
  deadlineMs?: number | undefined;
  /** When the client's request arrived (performance.now()); default: when it joins the queue. */
  arrivedAt?: number | undefined;
  signal?: AbortLike | undefined;
  /** A replica to avoid if another is free (a retry). */
  avoid?: Replica | undefined;
  /** The replica (URL) holding the run's prefix: preferred while the load stays balanced. */
  affinity?: string | undefined;
  /** A hash of the prompt's opening, for a request of no run: requests sharing a prefix meet where it is cached. */
  prefixHash?: number | undefined;
}

/** `failure` counts against the replica's circuit; `neutral` (client left, 4xx) does not. */
export type Outcome = 'success' | 'failure' | 'neutral';

/** A slot on one replica, held until the response is complete. */
export interface Lease {
  readonly replica: Replica;
  readonly queueMs: number;
  /** Frees the slot (once); `tokens` served count toward the run's attained service. */
  release(outcome: Outcome, tokens?: number): void;
}
