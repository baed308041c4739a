import type { Identity } from '../sessions/identity.js';

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
}

export interface MapRequest {
  identity: Identity;
  body: Readonly<Record<string, unknown>>;
}

/** Chooses the target of a request. One file per implementation (routing/mappers/). */
export interface StageMapper {
  readonly name: string;
  map(request: MapRequest): Target | Promise<Target>;
}
