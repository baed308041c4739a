import type { DurableObjectStorage } from './cloudflare.js';
import type { RunEntry } from './run-cell.js';

// The gateway's directory of runs, in one Durable Object: which runs exist, how recently each was
// active, and which replicas hold their tokens (the ledger). A run's own object keeps it current; the
// store reads it to list runs, find those on a replica, sweep idle ones and keep max_runs.

const PREFIX = 'run:';

export class RunDirectory {
  private entries: Map<string, RunEntry> | undefined;
  private loading: Promise<void> | undefined;
  /** Per replica URL, the runs with tokens there. */
  private readonly ledger = new Map<string, Set<string>>();

  constructor(private readonly storage: DurableObjectStorage) {}

  /** A run's latest entry; answers the runs dropped for room when there are more than `maxRuns`. */
  async note(entry: RunEntry, maxRuns: number): Promise<string[]> {
    const entries = await this.load();
    const known = entries.get(entry.id);
    // Only a newer record, or a later change to the same one, replaces what is known.
    if (known && (known.startedAt > entry.startedAt || (known.startedAt === entry.startedAt && known.rev >= entry.rev))) return [];
    if (known) this.unindex(known);
    this.set(entry);
    const evicted: string[] = [];
    while (entries.size > maxRuns) {
      let oldest: RunEntry | undefined;
      for (const e of entries.values()) if (e.id !== entry.id && (!oldest || e.lastActivity < oldest.lastActivity)) oldest = e;
      if (!oldest) break;
      this.remove(oldest);
      evicted.push(oldest.id);
    }
    return evicted;
  }

  async drop(id: string, startedAt?: number): Promise<void> {
    const known = (await this.load()).get(id);
    if (known && (startedAt === undefined || known.startedAt === startedAt)) this.remove(known);
  }

  /** Runs within their idle TTL, most recently active first: of one tenant, or (undefined) of all. */
  async list(limit: number, now: number, ttlMs: number, tenant?: string): Promise<string[]> {
    const live = [...(await this.load()).values()].filter((e) => now - e.ttlFrom <= ttlMs && (tenant === undefined || e.tenant === tenant));
    return live.sort((a, b) => b.lastActivity - a.lastActivity).slice(0, limit).map((e) => e.id);
  }

  async runsOn(replica: string): Promise<string[]> {
    await this.load();
    return [...(this.ledger.get(replica) ?? [])];
  }

  async expired(now: number, ttlMs: number): Promise<string[]> {
    return [...(await this.load()).values()].filter((e) => now - e.ttlFrom > ttlMs).map((e) => e.id);
  }

  private set(entry: RunEntry): void {
    this.entries!.set(entry.id, entry);
    this.index(entry);
    void this.storage.put(PREFIX + entry.id, entry); // the output gate holds the answer until it is written
  }

  private index(entry: RunEntry): void {
    for (const replica of entry.replicas) {
      let ids = this.ledger.get(replica);
      if (!ids) this.ledger.set(replica, (ids = new Set()));
      ids.add(entry.id);
    }
  }

  private remove(entry: RunEntry): void {
    this.entries!.delete(entry.id);
    this.unindex(entry);
    void this.storage.delete(PREFIX + entry.id);
  }

  private unindex(entry: RunEntry): void {
    for (const replica of entry.replicas) {
      const ids = this.ledger.get(replica);
      ids?.delete(entry.id);
      if (ids?.size === 0) this.ledger.delete(replica);
    }
  }

  private async load(): Promise<Map<string, RunEntry>> {
    await (this.loading ??= this.storage.list<RunEntry>({ prefix: PREFIX }).then((stored) => {
      this.entries = new Map();
      for (const entry of stored.values()) {
        this.entries.set(entry.id, entry);
        this.index(entry);
      }
    }));
    return this.entries!;
  }
}
