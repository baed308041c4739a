import type { Identity } from '../../identity.js';
import type { Lease } from '../../routing/backend.js';
import type { DispatchObserver } from '../../routing/dispatch.js';
import type { MapTrace, Target } from '../../routing/types.js';
import type { CacheActionRecord, RunOp, RunRecord } from '../../state.js';
import type { Call } from '../call.js';
import type { Exchange } from '../exchange.js';
import type { Incoming } from '../request.js';
import type { Ending } from '../settle.js';
import type { RouteKind } from '../validate.js';

// The request path's view of tracing: a few calls at its steps, on a handle that rides on the Call.
// Off, every handle is one shared object whose methods do nothing: no span, no attribute map, no
// header copy on the hot path. On, gateway/tracing/otel.ts draws each call as spans (see README).

/** One call's spans. Each step tells it what happened; it ends once, whichever way the call ends. */
export interface CallTrace {
  /** What the run's record keeps of the trace (its id), applied with the call's begin ops. */
  readonly runOps: readonly RunOp[];
  /** For the mapper: its classifier call as a span, and the headers that carry it to the classifier's engine. */
  readonly mapping: MapTrace | undefined;
  /** For dispatch: each attempt's wait for a slot, and the retries. */
  readonly dispatch: DispatchObserver | undefined;
  /** What memory's actions after this call name as their cause (the call's span): opaque to memory. */
  readonly cause: unknown;
  /** The mapper chose `mapped`; `target` serves (a fallback when rerouted). */
  mapped(mapped: Target, target: Target): void;
  /** An attempt got a slot on `replica` and is about to be sent: the headers to send, with its traceparent. */
  attempt(replica: string, lease: Lease, headers: Record<string, string>): Record<string, string>;
  /** The engine's response head arrived. */
  responded(status: number): void;
  /** The call is over (settle). */
  ended(call: Call, lease: Lease | undefined, ending: Ending, costUsd: number): void;
  /** The call failed before it could be settled (mapping, the run store, the engine's request). */
  failed(err: unknown): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /** A proxied call, once its identity is known (its span starts back when the request arrived). */
  call(kind: RouteKind, exchange: Exchange, identity: Identity, incoming: Incoming): CallTrace;
  /** A cache action memory carried out for `run`, from `startedAt` (performance.now()) until now; `cause` a CallTrace's, if a call set it off. */
  cacheAction(run: RunRecord, action: CacheActionRecord, startedAt: number, cause: unknown): void;
  /** Exports every span ended so far (tests, shutdown). */
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

const NOTHING: readonly RunOp[] = Object.freeze([]);

/** Tracing off: one handle for every call, doing nothing. */
export const NO_CALL_TRACE: CallTrace = {
  runOps: NOTHING,
  mapping: undefined,
  dispatch: undefined,
  cause: undefined,
  mapped() {},
  attempt: (_replica, _lease, headers) => headers,
  responded() {},
  ended() {},
  failed() {},
};

export const NO_TRACING: Tracing = {
  enabled: false,
  call: () => NO_CALL_TRACE,
  cacheAction() {},
  forceFlush: async () => {},
  shutdown: async () => {},
};
