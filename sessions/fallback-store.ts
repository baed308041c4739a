import type { Applied, ApplyOptions, RunOp, RunRecord, RunStore } from '../state.js';
import type { MemoryRunStore } from './memory-store.js';

/** Whether the shared store answers, told of every failure (gateway/fleet.ts watches Redis). */
export interface SharedHealth {
  readonly up: boolean;
  /** A command failed or timed out: the gateway serves from its local state until the store answers again. */
  failed(err: unknown): void;
}

/**
 * The runs of a fleet (`shared`, Redis) with this gateway's own (`local`) to fall back on: while the
 * shared store is down or slow, every operation goes to the local store, at once, and when it is
 * back, new calls go to the shared store again. A call that began on the local store ends there;
 * runs begun locally stay there until they end (they are not merged into the shared store), and
 * reads merge both.
 */
export class FallbackRunStore implements RunStore {
  constructor(
    private readonly shared: RunStore,
    private readonly local: MemoryRunStore,
    private readonly health: SharedHealth,
  ) {}

  // Not async: the shared store's operation is sent before this returns (a call's end goes out before its response's last bytes).
  apply(id: string, ops: readonly RunOp[], options: ApplyOptions = {}): Promise<Applied> {
    const local = () => this.local.apply(id, ops, options);
    if (options.create) return this.attempt((s) => s.apply(id, ops, options), local);
    if (options.ifStartedAt !== undefined && this.local.startedAt(id) === options.ifStartedAt) return local();
    return this.attempt(async (s) => {
      const applied = await s.apply(id, ops, options);
      return applied.after ? applied : local();
    }, local);
  }

  get(id: string): Promise<RunRecord | undefined> {
    return this.attempt(async (s) => (await s.get(id)) ?? this.local.get(id), () => this.local.get(id));
  }

  list(limit: number, tenant?: string): Promise<RunRecord[]> {
    const local = () => this.local.list(limit, tenant);
    return this.attempt(async (s) => {
      const [shared, mine] = await Promise.all([s.list(limit, tenant), local()]);
      if (mine.length === 0) return shared;
      return merged(shared, mine).sort((a, b) => b.lastActivity - a.lastActivity).slice(0, limit);
    }, local);
  }

  runsOn(replica: string): Promise<RunRecord[]> {
    const local = () => this.local.runsOn(replica);
    return this.attempt(async (s) => merged(await s.runsOn(replica), await local()), local);
  }

  async sweep(now: number): Promise<void> {
    await this.local.sweep();
    await this.attempt((s) => s.sweep(now), async () => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([this.shared.close(), this.local.close()]);
  }

  private async attempt<T>(shared: (store: RunStore) => Promise<T>, local: () => Promise<T>): Promise<T> {
    if (!this.health.up) return local();
    try {
      return await shared(this.shared);
    } catch (err) {
      this.health.failed(err);
      return local();
    }
  }
}

/** The shared records, then the local ones of ids the shared store does not have. */
function merged(shared: RunRecord[], local: RunRecord[]): RunRecord[] {
  if (local.length === 0) return shared;
  const ids = new Set(shared.map((r) => r.id));
  return [...shared, ...local.filter((r) => !ids.has(r.id))];
}
