// The two levels of scheduling in front of a backend (issue: two-level queueing). A backend's queue
// is split into one sub-queue per stage; the stage scheduler picks the sub-queue, the request
// scheduler picks the request inside it. Policies receive plain data and return a choice.

/** A request waiting for a slot on a backend, as policies see it. */
export interface Waiting {
  /** Arrival order across the backend; lower came first. */
  readonly seq: number;
  readonly stage: string;
  readonly run: string | undefined;
  /** X-Orla-Priority, higher first; 0 when untagged. */
  readonly priority: number;
  /** An estimate of the prompt's length in tokens. */
  readonly promptTokens: number;
  /** performance.now() when it joined the queue. */
  readonly enqueuedAt: number;
}

export interface StageQueueView {
  readonly stage: string;
  /** Non-empty, in arrival order. */
  readonly waiting: readonly Waiting[];
  /** The stage's share under `fair`. */
  readonly weight: number;
}

export interface PickContext {
  readonly now: number;
  /** Waiting this long adds one to a request's effective priority. */
  readonly agingMs: number;
  /** Tokens already served to a run on this backend (prompt + completion). */
  attainedService(run: string | undefined): number;
}

/** Level 2: which request of one stage's queue goes next. Returns an index into `waiting`. */
export interface RequestScheduler {
  readonly name: string;
  pick(waiting: readonly Waiting[], context: PickContext): number;
}

/** Level 1: which stage's queue is served next. Returns an index into `stages`. */
export interface StageScheduler {
  readonly name: string;
  pick(stages: readonly StageQueueView[], context: PickContext): number;
  /**
   * A policy that orders requests (priority, sjf, run-fair) picks the stage holding the request that
   * goes first, and orders the requests inside each stage's queue the same way, unless the stage
   * (or `scheduler.request`) names a request scheduler of its own.
   */
  readonly withinStage?: RequestScheduler;
}

/** Priority grown by waiting, so nothing starves. */
export function effectivePriority(w: Waiting, context: PickContext): number {
  return w.priority + (context.now - w.enqueuedAt) / context.agingMs;
}

/** The index of the best item by `better`; the first wins ties (arrival order). */
export function bestIndex<T>(items: readonly T[], better: (a: T, b: T) => boolean): number {
  let best = 0;
  for (let i = 1; i < items.length; i++) if (better(items[i]!, items[best]!)) best = i;
  return best;
}
