import { LRUCache } from 'lru-cache';

// What Orla knows about each workflow run: where its calls went, what it believes each replica still
// holds of it (the ledger: engines' usage gauges leave out cached blocks no request is using), and
// what was done to its cache.

export interface CacheActionRecord {
  at: number;
  backend: string;
  replica: string;
  action: string;
  result: 'ok' | 'refused' | 'unsupported' | 'failed' | 'skipped';
  reason: string;
  detail?: string;
}

export interface RunRecord {
  id: string;
  /** Inferred from the conversation root rather than tagged. */
  inferred: boolean;
  startedAt: number;
  lastActivity: number;
  completedAt?: number;
  completedBy?: 'client' | 'workflow-done' | 'idle' | 'evicted';
  stages: string[];
  backends: string[];
  replicas: string[];
  calls: number;
  /** Calls that failed (the engine's error, a timeout, a rejection; not a client that left). */
  failedCalls: number;
  lastError?: { at: number; stage: string; backend: string; status: number; message: string };
  inFlight: number;
  lastBackend?: string;
  lastReplica?: string;
  /** The model of the latest call (Ollama unloads by model). */
  lastModel?: string;
  /** Prompt tokens of the latest call, and how much that grew from the call before. */
  contextTokens: number;
  contextGrowth: number;
  /** Per replica URL: the tokens of this run Orla believes are still cached there. */
  resident: Record<string, number>;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costUsd: number;
  /** The latest response ended in tool calls and no call has come since. */
  waitingOnTool: boolean;
  toolWaitSince?: number;
  /** Per backend: this run's calls planned there and not over yet. */
  inFlightOn: Record<string, number>;
  /**
   * Per backend: the replicas where the run may hold something not released yet (its requests were
   * tagged there, by every dispatch attempt, or left tokens there). What a release must cover.
   */
  unreleased: Record<string, string[]>;
  /** Per stage: a flush hint put off while that stage's agent loop waits on a tool (see the manager). */
  deferredFlush: Record<string, { reason: string; backend: string; replicas: string[] }>;
  cacheActions: CacheActionRecord[];
}

/** Where runs live. In memory by default; a shared store (Redis) can replace it for several gateways. */
export interface SessionStore {
  get(run: string): RunRecord | undefined;
  /** The record held for an id, with no side effect (no expiry, no recency). */
  peek(run: string): RunRecord | undefined;
  /**
   * The run, created on first sight; counts as activity. A run idle past the TTL has ended, swept or
   * not: it is handed to `expired`, and the call that finds it so starts a fresh record.
   */
  touch(run: string, inferred: boolean, now: number): RunRecord;
  /** Most recently active first. */
  list(limit: number): RunRecord[];
  readonly size: number;
  /** Drops runs idle past the TTL, handing each to `expired` first. */
  sweep(): void;
}

const MAX_ACTIONS_KEPT = 50;

export function recordAction(run: RunRecord, action: CacheActionRecord): void {
  run.cacheActions.push(action);
  if (run.cacheActions.length > MAX_ACTIONS_KEPT) run.cacheActions.shift();
}

export function addUnique(list: string[], item: string): void {
  if (!list.includes(item)) list.push(item);
}

export class MemorySessionStore implements SessionStore {
  private readonly runs: LRUCache<string, RunRecord>;

  constructor(options: {
    maxRuns: number;
    idleTtlMs: number;
    expired(run: RunRecord, why: 'idle' | 'evicted'): void;
    /** The clock the idle TTL is measured on (tests inject one); read on every check when given. */
    now?: () => number;
  }) {
    this.runs = new LRUCache<string, RunRecord>({
      max: options.maxRuns,
      ttl: options.idleTtlMs,
      updateAgeOnGet: false,
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : {}),
      dispose: (run, _key, reason) => {
        if (reason === 'expire') options.expired(run, 'idle');
        else if (reason === 'evict') options.expired(run, 'evicted');
      },
    });
  }

  get(run: string): RunRecord | undefined {
    return this.runs.get(run, { allowStale: true });
  }

  peek(run: string): RunRecord | undefined {
    return this.runs.peek(run, { allowStale: true });
  }

  touch(run: string, inferred: boolean, now: number): RunRecord {
    // Not `allowStale`: a run past its idle TTL is deleted here (ended and released through `expired`,
    // as the sweep would), and its call starts a fresh record. Putting the ended record back would
    // leave it released, and out of the ledger, while it holds tokens again.
    let record = this.runs.get(run);
    if (!record) {
      record = {
        id: run, inferred, startedAt: now, lastActivity: now, stages: [], backends: [], replicas: [], calls: 0, failedCalls: 0, inFlight: 0,
        contextTokens: 0, contextGrowth: 0, resident: {}, promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0,
        waitingOnTool: false, inFlightOn: {}, unreleased: {}, deferredFlush: {}, cacheActions: [],
      };
    }
    record.lastActivity = now;
    this.runs.set(run, record); // refreshes recency and the idle TTL
    return record;
  }

  list(limit: number): RunRecord[] {
    const out: RunRecord[] = [];
    for (const run of this.runs.values()) {
      out.push(run);
      if (out.length >= limit) break;
    }
    return out;
  }

  get size(): number {
    return this.runs.size;
  }

  sweep(): void {
    this.runs.purgeStale();
  }
}
