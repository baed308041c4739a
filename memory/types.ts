import type { CacheHint } from '../sessions/identity.js';

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
