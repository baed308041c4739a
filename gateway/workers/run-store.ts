import type { Applied, ApplyOptions, OnExpired, RunOp, RunRecord, RunStore } from '../../state.js';
import type { RunCall, RunReply } from './run-cell.js';

/** A run's object as the store calls it (RPC to its Durable Object, or the cell itself in tests). */
export interface RunLink {
  apply(call: RunCall & { ops: readonly RunOp[]; options: ApplyOptions }): Promise<RunReply<Applied>>;
  get(call: RunCall): Promise<RunReply<RunRecord | undefined>>;
  peek(): Promise<RunRecord | undefined>;
  expire(call: RunCall): Promise<RunRecord | undefined>;
  evict(call: RunCall): Promise<RunRecord | undefined>;
}

/** The run directory as the store calls it. */
export interface DirectoryLink {
  list(limit: number, now: number, ttlMs: number, tenant?: string): Promise<string[]>;
  runsOn(replica: string): Promise<string[]>;
  expired(now: number, ttlMs: number): Promise<string[]>;
}

export interface DurableObjectRunStoreOptions {
  /** The run's object, by the run's key (`runKey`: `tenant/run`; one Durable Object per run). */
  run(id: string): RunLink;
  /** The gateway's run directory (one Durable Object). */
  directory(): DirectoryLink;
  idleTtlMs: number;
  maxRuns: number;
  onExpired: OnExpired;
  now?: () => number;
}

/** Runs swept at once. */
const SWEEP_BATCH = 16;

/**
 * The RunStore of the Workers entry: each run in its own Durable Object (run-cell.ts), which applies
 * the operations with sessions/ops.ts, so every isolate sees the same record; a directory object
 * (run-directory.ts) lists them, sweeps them and knows the ledger. One round trip per operation.
 */
export class DurableObjectRunStore implements RunStore {
  private readonly now: () => number;

  constructor(private readonly options: DurableObjectRunStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  async apply(id: string, ops: readonly RunOp[], options: ApplyOptions = {}): Promise<Applied> {
    const reply = await this.options.run(id).apply({ ...this.call(id), ops, options });
    this.ended(reply.ended, 'idle');
    if (reply.evict) await this.evict(reply.evict);
    return reply.value;
  }

  async get(id: string): Promise<RunRecord | undefined> {
    const reply = await this.options.run(id).get(this.call(id));
    this.ended(reply.ended, 'idle');
    return reply.value;
  }

  async list(limit: number, tenant?: string): Promise<RunRecord[]> {
    const ids = await this.options.directory().list(limit, this.now(), this.options.idleTtlMs, tenant);
    return this.peekAll(ids);
  }

  async runsOn(replica: string): Promise<RunRecord[]> {
    const records = await this.peekAll(await this.options.directory().runsOn(replica));
    return records.filter((run) => replica in run.resident);
  }

  async sweep(now: number): Promise<void> {
    const ids = await this.options.directory().expired(now, this.options.idleTtlMs);
    for (let i = 0; i < ids.length; i += SWEEP_BATCH) {
      await Promise.all(
        ids.slice(i, i + SWEEP_BATCH).map(async (id) => this.ended(await this.options.run(id).expire({ ...this.call(id), now }), 'idle')),
      );
    }
  }

  async close(): Promise<void> {}

  private call(id: string): RunCall {
    return { id, now: this.now(), ttlMs: this.options.idleTtlMs, maxRuns: this.options.maxRuns };
  }

  private async peekAll(ids: readonly string[]): Promise<RunRecord[]> {
    const records = await Promise.all(ids.map((id) => this.options.run(id).peek()));
    return records.filter((run): run is RunRecord => run !== undefined);
  }

  private async evict(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map(async (id) => this.ended(await this.options.run(id).evict(this.call(id)), 'evicted')));
  }

  /** The record is the owner's now: handed over once the caller has its answer, as the in-memory store does. */
  private ended(run: RunRecord | undefined, why: 'idle' | 'evicted'): void {
    if (run) queueMicrotask(() => this.options.onExpired(run, why));
  }
}
