import type { Replica } from '../replica.js';
import type { Ticket } from '../ticket.js';

/**
 * Which replica of a backend serves a request. `free` are the replicas that can take one now (a
 * slot free, the circuit admitting), never empty; `all` every replica, in configured order.
 */
export interface ReplicaPicker {
  readonly name: string;
  pick(free: readonly Replica[], all: readonly Replica[], ticket: Ticket): Replica;
}

/**
 * When a warm replica is left for the least loaded one: only when the imbalance is real, by both
 * an absolute margin (`margin` more requests in flight) and a relative one (`factor` times as many),
 * as SGLang's and vLLM's routers judge it.
 */
export interface Balance {
  margin: number;
  factor: number;
}

/** A replica's requests in flight: this gateway's, and in a fleet the other gateways' as of their latest heartbeat. */
export const load = (r: Replica): number => r.inFlight + r.elsewhere;

export const overloaded = (warm: Replica, free: readonly Replica[], { margin, factor }: Balance): boolean => {
  const least = Math.min(...free.map(load));
  return load(warm) - least > margin && load(warm) > factor * least;
};
