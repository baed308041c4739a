/**
 * What a backend may use of its configured limits on this gateway, now. On its own, a gateway has
 * all of them; in a fleet (routing/fleet-shares.ts) each gateway has a share, so that the limits
 * hold for the fleet. A runtime that shares limits its own way implements this.
 */
export interface SlotGate {
  /** Requests this gateway may have in flight on each replica of the backend (`configured`: its max_concurrency). */
  concurrency(backend: string, configured: number): number;
  /** Requests that may wait in this gateway's queue for the backend (`configured`: its queue_limit). */
  queueLimit(backend: string, configured: number): number;
  /** A request has to wait for a slot on the backend: a gateway with a share may ask for more now. */
  waiting?(backend: string): void;
}

/** A gateway on its own: every limit is its own. */
export const ownLimits: SlotGate = {
  concurrency: (_backend, configured) => configured,
  queueLimit: (_backend, configured) => configured,
};
