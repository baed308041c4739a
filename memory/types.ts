import type { BackendConfig } from '../config/schema.js';
import type { CacheHint } from '../identity.js';
import type { EngineCall } from '../upstream/engines/index.js';

// The memory manager's seams: a cache policy decides, from plain facts, what becomes of a run's
// cache; an engine's cache adapter (upstream/engines/) carries that out with what the engine offers.

/** `preserve`: keep the run's prefix warm; `release`: free it; `defer`: free it once the stage's agent loop ends. */
export type CacheDecision = 'preserve' | 'release' | 'defer';

export interface CacheFacts {
  /** A call of the run completed; the run's next call went to another backend; the run ended. */
  event: 'call' | 'switch' | 'end';
  /** The call's X-Orla-Cache, else its stage's `cache` (`auto` for other events). */
  hint: CacheHint;
  /** The call ended in tool calls: its stage's agent loop comes back to extend this very context. */
  toolCalls: boolean;
  /** A flush of the call's stage was put off while its loop waited on a tool. */
  deferred: boolean;
}

export interface CachePolicy {
  readonly name: string;
  decide(facts: CacheFacts): CacheDecision;
}

/** A backend as memory sees it: its replicas, their load, and how to reach them. */
export interface MemoryBackend {
  readonly name: string;
  readonly config: BackendConfig;
  readonly replicas: readonly string[];
  /** Requests in flight on a replica now, all runs together. */
  inFlight(replica: string): number;
  /** Cache-control requests to a replica, with the backend's key. */
  call: EngineCall;
}
