import type { Price, TokenUsage } from '../cost.js';
import type { MapRequest, Verdict } from '../types.js';

// Dynamic mappers: given a request and the live state of the backends, pick where it goes. Each
// built-in is one file; a custom one is a module whose default export has `name` and `choose`.

/** What a mapper sees of a backend right now. */
export interface BackendState {
  readonly name: string;
  readonly engine: string;
  /** Requests waiting in its queue. */
  readonly queued: number;
  /** Requests sent to its replicas and not finished. */
  readonly inFlight: number;
  /** Every replica's circuit is open: it cannot serve now. */
  readonly circuitOpen: boolean;
  /** How long a new request would wait for a slot (Infinity when it cannot tell yet). */
  readonly estimatedWaitMs: number;
  readonly price: Price | undefined;
  /** Declared quality, 0–1 (`backends.<name>.quality`). */
  readonly quality: number | undefined;
}

export interface MapContext {
  /** The configured stage being served. */
  readonly stage: string;
  readonly request: MapRequest;
  /** Every backend's state, read when first asked for. */
  readonly backends: ReadonlyMap<string, BackendState>;
}

/** Where a mapper sends a request; the stage's own settings (fallbacks, reroute wait, params) are added to it. */
export interface Choice {
  backend: string;
  model?: string | undefined;
  params?: Readonly<Record<string, unknown>> | undefined;
  /** For `X-Orla-Mapped`. */
  verdict?: Verdict | undefined;
  /** What deciding cost, in USD (a classifier call). */
  costUsd?: number | undefined;
}

export interface DynamicMapper {
  readonly name: string;
  choose(context: MapContext): Choice | Promise<Choice>;
}

export type FallbackReason = 'timeout' | 'error' | 'invalid';

/** What mappers report as they work (the gateway turns it into metrics); every method optional. */
export interface MapperObserver {
  /** One request mapped by a dynamic mapper; `cached` when a stored verdict answered. */
  mapped?(mapper: string, verdict: Verdict | undefined, cached: boolean): void;
  /** A classifier could not decide and the request went to the mapper's fallback side. */
  classifierFailed?(mapper: string, reason: FallbackReason): void;
  /** Tokens and cost of a call Orla made itself (a classifier's), under that call's stage. */
  internalUsage?(backend: string, stage: string, usage: TokenUsage, costUsd: number): void;
}
