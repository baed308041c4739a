import type { CacheHint } from '../sessions/identity.js';
import type { CacheActionRecord } from '../sessions/runs.js';

// The memory manager's seams: a cache policy decides, from plain data, whether a run's cache stays
// after a call; an engine adapter carries that out with what its engine really offers.

/** `preserve`: keep the run's prefix warm on its replica; `release`: free it once the call is done. */
export type CacheDecision = 'preserve' | 'release';

export interface CallFacts {
  /** X-Orla-Cache (the request's), else the stage's `cache`. */
  hint: CacheHint;
  /** X-Orla-Workflow-Done: this is the run's last call. */
  workflowDone: boolean;
}

export interface CachePolicy {
  readonly name: string;
  /** What happens to the run's cache on its replica once this call completes (for `auto` hints). */
  afterCall(facts: CallFacts): CacheDecision;
}

export interface ReplicaRef {
  url: string;
  /** Requests in flight on this replica right now, all runs together. */
  inFlight: number;
}

export interface ReleaseContext {
  /** Other requests are in flight on the replica: a global flush must never run then. */
  othersInFlight: boolean;
  /** Other runs have prefixes cached there (Orla's ledger): a global flush would wipe them. */
  othersCached: boolean;
  /** The release is the pressure rule's: wiping others' idle prefixes is then the point. */
  underPressure: boolean;
  /**
   * The run was only tagged on the replica (an attempt that failed or was retried elsewhere): the
   * ledger shows none of its tokens there. Its session or slot is still freed; a global flush would
   * free nothing of the run.
   */
  onlyTagged?: boolean;
}

/** Whether a global flush may run: the run left tokens, nothing is in flight, and no other run's prefix is lost unless memory is short. */
export const globalFlushAllowed = (c: ReleaseContext) => !c.onlyTagged && !c.othersInFlight && (!c.othersCached || c.underPressure);

export type ActionResult = Pick<CacheActionRecord, 'action' | 'result' | 'detail'>;

/** What an engine allows for one run's cache. One file per engine (memory/engines/). */
export interface EngineAdapter {
  readonly engine: string;
  /**
   * Fields or headers that make the run's cache addressable later (a session id, a slot). May return
   * what to do once that request has ended (its slot is free again).
   */
  tagRequest?(run: string, replica: string, body: Record<string, unknown>, headers: Record<string, string>): (() => void) | void;
  /** Frees what the engine holds of `run` on `replica`, as far as the engine allows. */
  releaseRun(run: string, replica: ReplicaRef, context: ReleaseContext): Promise<ActionResult>;
  /** The engine's KV usage, 0..1, if it reports one. */
  usage?(replica: string): Promise<number | undefined>;
}

/** How an adapter talks to a replica: the backend's upstream client, with its key (`admin`: its admin key, if it has one). */
export type EngineCall = (
  replica: string,
  request: { method: 'GET' | 'POST'; path: string; body?: unknown; timeoutMs?: number; admin?: boolean },
) => Promise<{ status: number; text: string }>;
