import type { Identity } from '../identity.js';
import type { TokenUsage } from './cost.js';

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
  /** With tracing on: where a mapper's own calls (a classifier's) report, each as its own span. */
  trace?: MapTrace | undefined;
}

/** A mapper's own calls as the trace sees them (gateway/tracing/). */
export interface MapTrace {
  /** A classifier call begins. */
  classifying(mapper: string, backend: string, model: string): ClassifierTrace;
}

export interface ClassifierTrace {
  /** Sent with the classifier's request: its span, as the engine's parent (traceparent). */
  readonly headers: Record<string, string>;
  /** How it went: the verdict, or why it fell back; what it cost. */
  ended(outcome: { verdict?: 'simple' | 'complex'; failed?: string; status?: number; usage?: TokenUsage; costUsd: number }): void;
}

/** Chooses the target of a request. One file per implementation (routing/mappers/). */
export interface StageMapper {
  readonly name: string;
  map(request: MapRequest): Target | Promise<Target>;
}
