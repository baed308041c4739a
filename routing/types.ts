import type { Identity } from '../identity.js';

/** A dynamic mapper's answer: the simple or the complex side, or the fallback side when it could not decide. */
export type Verdict = 'simple' | 'complex' | 'fallback';

/** What a dynamic mapper decided for one request (`X-Orla-Mapped`, cost accounting). */
export interface Mapped {
  /** The mapper's name in the config. */
  mapper: string;
  verdict: Verdict | undefined;
  /** What deciding cost (a classifier call); 0 when nothing was called, e.g. a cached verdict. */
  costUsd: number;
}

/** Where one request goes: a backend, the model to ask it for, and the stage's request fields. */
export interface Target {
  /** The configured stage that serves the request (`default` for untagged or unknown stages). */
  stage: string;
  backend: string;
  /** Rewritten into the request; undefined keeps the client's. */
  model: string | undefined;
  /** Fields that override the client's. */
  params: Readonly<Record<string, unknown>> | undefined;
  /** Where to go instead when the backend cannot serve soon (same stage, other backend). */
  fallbacks: readonly Target[];
  /** Reroute when the backend's estimated queue wait exceeds this. */
  rerouteWaitMs: number | undefined;
  /** Set when a dynamic mapper chose the target; absent for an explicit stage. */
  mapped?: Mapped | undefined;
}

export interface MapRequest {
  identity: Identity;
  body: Readonly<Record<string, unknown>>;
  /** The client's request: when it goes away, a mapper stops working for it (a queued classifier call leaves). */
  signal?: AbortSignal | undefined;
  /** When the request's X-Orla-Deadline-Ms passes (performance.now()): a mapper's own calls end by then. */
  deadlineAt?: number | undefined;
}

/** Chooses the target of a request. One file per implementation (routing/mappers/). */
export interface StageMapper {
  readonly name: string;
  map(request: MapRequest): Target | Promise<Target>;
}
