import type { Applied, ApplyOptions, RunOp, RunRecord } from '../../state.js';
import { applyOps, endedRun, newRun } from '../../sessions/ops.js';
import type { DurableObjectStorage } from './cloudflare.js';

// One run's record, as its Durable Object holds it: the operations mean what sessions/ops.ts says
// (applyOps on the stored record), and the idle TTL and max_runs behave as the in-memory store's.
// The clock is the caller's (the Worker passes `now`): the same rule whoever asks.

/** What the run directory (run-directory.ts) knows of a run: enough to list, sweep, evict and find it on a replica. */
export interface RunEntry {
  id: string;
  /** The run's tenant (its id is `tenant/run` then): a tenant's list shows only its runs. */
  tenant?: string;
  startedAt: number;
  lastActivity: number;
  /** When its idle TTL started: its latest call's start, as the in-memory store counts it. */
  ttlFrom: number;
  /** Grows with each change to the record: a late note never overwrites a newer one. */
  rev: number;
  replicas: string[];
}

/** The directory as a run's object reaches it. */
export interface RunDirectoryLink {
  note(entry: RunEntry, maxRuns: number): Promise<string[]>;
  /** Drops the run's entry if it is of the record that began at `startedAt` (any record without it). */
  drop(id: string, startedAt?: number): Promise<void>;
}

/** What every call to a run's object carries. */
export interface RunCall {
  id: string;
  now: number;
  ttlMs: number;
  maxRuns: number;
}

export interface RunReply<T> {
  value: T;
  /** The record this call found idle past its TTL, and ended (its owner releases what it held). */
  ended?: RunRecord;
  /** Runs the directory dropped for room (max_runs): the caller ends each. */
  evict?: string[];
}

interface Stored {
  record: RunRecord;
  ttlFrom: number;
  rev: number;
}

const KEY = 'run';
/** How long after its idle TTL a run nobody swept deletes itself (no cron trigger: nothing else would). */
export const FORGET_AFTER_MS = 24 * 3600_000;

export class RunCell {
  private stored: Stored | undefined;
  private loading: Promise<void> | undefined;
  /** Notes and drops reach the directory in the order they were made. */
  private directoryQueue: Promise<unknown> = Promise.resolve();
  private noted: string | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly directory: () => RunDirectoryLink,
  ) {}

  async apply(call: RunCall & { ops: readonly RunOp[]; options: ApplyOptions }): Promise<RunReply<Applied>> {
    await this.load();
    const { id, now, ops, options } = call;
    const nothing = () => ops.map(() => false);
    let ended: RunRecord | undefined;
    if (this.stored && now - this.stored.ttlFrom > call.ttlMs) {
      // Idle past the TTL: ended here, as the sweep would end it. Creating, the call starts a fresh
      // record; otherwise it is answered with the ended one, unchanged.
      ended = await this.end(now, 'idle');
      if (!options.create) return { value: { after: ended, results: nothing() }, ended };
    }
    let record = this.stored?.record;
    if (record && options.ifStartedAt !== undefined && record.startedAt !== options.ifStartedAt) record = undefined;
    if (!record && !options.create) return { value: { after: undefined, results: nothing() }, ended };
    const { record: current, results } = applyOps(record ?? newRun(id, options.create!.inferred, options.create!.now), ops);
    this.stored = { record: current, ttlFrom: options.create ? now : this.stored!.ttlFrom, rev: (record ? this.stored!.rev : 0) + 1 };
    void this.storage.put(KEY, this.stored); // the output gate holds the answer until it is written
    if (options.create) void this.storage.setAlarm(now + call.ttlMs + FORGET_AFTER_MS);
    const evict = await this.note(call.maxRuns);
    return { value: { after: current, results }, ended, evict };
  }

  /** The record; one idle past its TTL is ended by the reading, as the in-memory store's lookup ends it. */
  async get(call: RunCall): Promise<RunReply<RunRecord | undefined>> {
    await this.load();
    if (this.stored && call.now - this.stored.ttlFrom > call.ttlMs) {
      const ended = await this.end(call.now, 'idle');
      return { value: ended, ended };
    }
    return { value: this.stored?.record };
  }

  /** The record as it is, ended or not (the ledger and lists read runs without ending them). */
  async peek(): Promise<RunRecord | undefined> {
    await this.load();
    return this.stored?.record;
  }

  /** The sweep: ends the run if it is idle past its TTL, and hands it over. */
  async expire(call: RunCall): Promise<RunRecord | undefined> {
    await this.load();
    if (!this.stored) {
      await this.toDirectory((d) => d.drop(call.id)); // the directory missed its end: this object is the authority
      return undefined;
    }
    if (call.now - this.stored.ttlFrom <= call.ttlMs) {
      await this.note(call.maxRuns); // called again meanwhile: the directory hears it
      return undefined;
    }
    return this.end(call.now, 'idle');
  }

  /** Dropped for room (max_runs): ended and handed over. */
  async evict(call: RunCall): Promise<RunRecord | undefined> {
    await this.load();
    return this.stored ? this.end(call.now, 'evicted') : undefined;
  }

  /** Nobody swept it (no cron trigger): forget it, so storage does not grow forever. Its cache is left to the engine. */
  async forget(now: number): Promise<void> {
    await this.load();
    if (this.stored && now >= this.stored.ttlFrom) await this.end(now, 'idle');
  }

  private async end(now: number, by: 'idle' | 'evicted'): Promise<RunRecord> {
    const record = endedRun(this.stored!.record, now, by);
    this.stored = undefined;
    this.noted = undefined;
    void this.storage.deleteAll();
    void this.storage.deleteAlarm();
    // A drop that fails leaves an entry whose sweep finds this object empty, and drops it then.
    await this.toDirectory((d) => d.drop(record.id, record.startedAt)).catch(() => {});
    return record;
  }

  /** Tells the directory what it lists, sweeps and indexes by, when that changed. */
  private async note(maxRuns: number): Promise<string[] | undefined> {
    const { record, ttlFrom, rev } = this.stored!;
    const entry: RunEntry = { id: record.id, ...(record.tenant !== undefined ? { tenant: record.tenant } : {}), startedAt: record.startedAt, lastActivity: record.lastActivity, ttlFrom, rev, replicas: Object.keys(record.resident) };
    const key = `${entry.tenant}|${entry.startedAt}|${entry.lastActivity}|${entry.ttlFrom}|${entry.replicas.join(' ')}`;
    if (key === this.noted) return undefined;
    this.noted = key;
    try {
      const evict = await this.toDirectory((d) => d.note(entry, maxRuns));
      return evict.length > 0 ? evict : undefined;
    } catch {
      // The record is stored: the call stands. The directory hears of the run with its next change.
      this.noted = undefined;
      return undefined;
    }
  }

  private toDirectory<T>(send: (directory: RunDirectoryLink) => Promise<T>): Promise<T> {
    const sent = this.directoryQueue.then(() => send(this.directory()));
    this.directoryQueue = sent.catch(() => {});
    return sent;
  }

  private load(): Promise<void> {
    return (this.loading ??= this.storage.get<Stored>(KEY).then((stored) => {
      this.stored = stored;
    }));
  }
}
