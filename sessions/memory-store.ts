import { LRUCache } from 'lru-cache';
import type { Applied, ApplyOptions, OnExpired, RunOp, RunRecord, RunStore } from '../state.js';
import { applyOps, endedRun, newRun } from './ops.js';

/**
 * The runs of one gateway, in its memory: at most `maxRuns` (the least recently active evicted), a
 * run idle past the TTL ended, and an index of which runs hold tokens on which replica (the ledger).
 * Records are values (`applyOps` makes a new one for each change), so they are handed out as kept.
 */
export class MemoryRunStore implements RunStore {
  /** Per run, where its latest record is kept (replacing it leaves the run's recency and TTL alone). */
  private readonly runs: LRUCache<string, { record: RunRecord }>;
  /** Per replica URL, the runs with tokens there (from `resident`). */
  private readonly ledger = new Map<string, Set<string>>();

  constructor(options: {
    maxRuns: number;
    idleTtlMs: number;
    onExpired: OnExpired;
    /** The clock the idle TTL is measured on (tests inject one). */
    now?: () => number;
  }) {
    const now = options.now ?? Date.now;
    this.runs = new LRUCache<string, { record: RunRecord }>({
      max: options.maxRuns,
      ttl: options.idleTtlMs,
      updateAgeOnGet: false,
      // The clock is read once per resolution (each read of a fresh one sets a timer): 1% of the TTL,
      // at most a second, instead of the default millisecond's timer per busy millisecond.
      ...(options.now ? { perf: { now: options.now }, ttlResolution: 0 } : { ttlResolution: Math.min(1000, options.idleTtlMs / 100) }),
      dispose: (slot, _key, reason) => {
        if (reason !== 'expire' && reason !== 'evict') return;
        this.unindex(slot.record);
        const by = reason === 'expire' ? 'idle' : 'evicted';
        const ended = (slot.record = endedRun(slot.record, now(), by)); // what the lookup that found it stale answers
        // Once the cache is done with the entry (a lookup from the handler would meet it again).
        queueMicrotask(() => options.onExpired(ended, by));
      },
    });
  }

  async apply(id: string, ops: readonly RunOp[], options: ApplyOptions = {}): Promise<Applied> {
    // A run past its idle TTL is deleted by the lookup (and ended through onExpired, as the sweep
    // would). Creating, the call that found it so starts a fresh record; otherwise the ended record
    // is answered as it is, unchanged. (Its remaining TTL tells it: a lookup's status costs 250 bytes.)
    const stale = !options.create && this.runs.getRemainingTTL(id) < 0;
    const slot = this.runs.get(id, options.create ? undefined : { allowStale: true });
    let record = slot?.record;
    if (record && stale) return { after: record, results: ops.map(() => false) };
    if (record && options.ifStartedAt !== undefined && record.startedAt !== options.ifStartedAt) record = undefined;
    if (!record && !options.create) return { after: undefined, results: ops.map(() => false) };
    const { record: after, results } = applyOps(record ?? newRun(id, options.create!.inferred, options.create!.now), ops);
    if (options.create) this.runs.set(id, { record: after }); // refreshes recency and the idle TTL
    else slot!.record = after;
    for (const op of ops) if (op.field === 'resident') this.index(after.id, op.key!, after.resident[op.key!] !== undefined);
    return { after, results };
  }

  async get(id: string): Promise<RunRecord | undefined> {
    return this.runs.get(id, { allowStale: true })?.record;
  }

  async list(limit: number, tenant?: string): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for (const { record: run } of this.runs.values()) {
      if (tenant !== undefined && run.tenant !== tenant) continue;
      out.push(run);
      if (out.length >= limit) break;
    }
    return out;
  }

  async runsOn(replica: string): Promise<RunRecord[]> {
    const ids = this.ledger.get(replica);
    if (!ids) return [];
    return [...ids].flatMap((id) => {
      const run = this.runs.peek(id, { allowStale: true })?.record;
      return run ? [run] : [];
    });
  }

  async othersActiveOn(replica: string, run: string): Promise<boolean> {
    for (const id of this.ledger.get(replica) ?? []) {
      if (id !== run && this.runs.peek(id, { allowStale: true })?.record.completed === undefined) return true;
    }
    return false;
  }

  async sweep(): Promise<void> {
    this.runs.purgeStale();
  }

  async close(): Promise<void> {}

  /** When the run held here began, if one is (no copy, no change: a synchronous look). */
  startedAt(id: string): number | undefined {
    return this.runs.peek(id, { allowStale: true })?.record.startedAt;
  }

  get size(): number {
    return this.runs.size;
  }

  /** The ledger learns whether a run holds tokens on a replica. */
  private index(id: string, replica: string, holds: boolean): void {
    let ids = this.ledger.get(replica);
    if (!holds) return void ids?.delete(id);
    if (!ids) this.ledger.set(replica, (ids = new Set()));
    ids.add(id);
  }

  private unindex(run: RunRecord): void {
    for (const ids of this.ledger.values()) ids.delete(run.id);
  }
}
