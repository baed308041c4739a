import { runOp, type CacheActionRecord, type RunRecord, type RunStore } from '../state.js';
import { engineOf, type ActionResult, type CacheAdapter, type ReleaseContext } from '../upstream/engines/index.js';
import { MAX_ACTIONS_KEPT } from './call-end.js';
import type { MemoryBackend } from './types.js';

export interface MemoryObserver {
  cacheAction?(engine: string, action: string, result: string): void;
  runEnded?(why: 'idle' | 'evicted'): void;
}

export interface ReleaseOptions {
  /** The pressure rule's: wiping others' idle prefixes is then the point. */
  underPressure?: boolean;
  /** The run's call has just completed there (its tokens may not be in the record yet). */
  landed?: boolean;
}

/**
 * Carries releases out through each engine's cache adapter, off the request's path, and records what
 * came of them in the run. A release first claims the replica (takes it out of the run's
 * `unreleased`), so two rules, or two gateways, never release the same thing twice.
 */
export class Releaser {
  private readonly adapters = new Map<string, CacheAdapter>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly store: RunStore,
    private readonly backends: ReadonlyMap<string, MemoryBackend>,
    private readonly observer: MemoryObserver,
    cacheOf: (backend: MemoryBackend) => CacheAdapter = (b) => engineOf(b.config.engine).cache({ call: b.call, slots: b.config.slots }),
  ) {
    for (const b of backends.values()) this.adapters.set(b.name, cacheOf(b));
  }

  adapter(backend: string): CacheAdapter | undefined {
    return this.adapters.get(backend);
  }

  /** Frees `run` on a replica of `backend`, as far as its engine allows, and records the outcome. */
  release(run: RunRecord, backend: string, replica: string, reason: string, options: ReleaseOptions = {}): Promise<void> {
    const done = this.carryOut(run, backend, replica, reason, options).finally(() => this.pending.delete(done));
    this.pending.add(done);
    return done;
  }

  /** Resolves once no release is under way (those started meanwhile included). */
  async settled(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve)); // what a run's end or expiry has just set off
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async carryOut(run: RunRecord, backend: string, replica: string, reason: string, options: ReleaseOptions): Promise<void> {
    const b = this.backends.get(backend);
    const adapter = this.adapters.get(backend);
    if (!b || !adapter || !b.replicas.includes(replica)) return; // the replica is gone: nothing left to free there
    const claim = await this.store.apply(run.id, [runOp.removeIn('unreleased', backend, replica)], { ifStartedAt: run.startedAt });
    const resident = run.resident[replica] ?? 0;
    if (claim.after === undefined) {
      // Dropped from the store. Engines know runs by id: when the id is live again as a new record,
      // this release would free the new run's cache. Only an unclaimed release goes ahead.
      const successor = await this.store.get(run.id);
      if (successor && successor.startedAt !== run.startedAt) return;
    } else if (!claim.results[0] && !options.landed && resident === 0) return; // released by another rule already
    const context: ReleaseContext = {
      othersInFlight: b.inFlight(replica) > 0,
      // A finished run's prefix protects nothing: its own release may have been skipped (refused,
      // or others ran then), and it must not block every later idle flush on the replica.
      othersCached: (await this.store.runsOn(replica)).some((r) => r.id !== run.id && r.completed === undefined),
      underPressure: options.underPressure ?? false,
      model: run.lastModel,
    };
    if (!options.landed && resident === 0) context.onlyTagged = true;
    let outcome: ActionResult;
    try {
      outcome = await adapter.releaseRun(run.id, { url: replica, inFlight: b.inFlight(replica) }, context);
    } catch (err) {
      outcome = { action: 'release', result: 'failed', detail: (err as Error).message };
    }
    const { wholeReplica, ...result } = outcome;
    const action: CacheActionRecord = { at: Date.now(), backend, replica, reason, ...result };
    const released = runOp.setIn('resident', replica, undefined);
    await this.store.apply(run.id, [runOp.push('cacheActions', action, MAX_ACTIONS_KEPT), ...(outcome.result === 'ok' ? [released] : [])], { ifStartedAt: run.startedAt });
    // The whole replica was flushed: no run holds anything there any more.
    if (outcome.result === 'ok' && wholeReplica) {
      for (const other of await this.store.runsOn(replica)) if (other.id !== run.id) await this.store.apply(other.id, [released], { ifStartedAt: other.startedAt });
    }
    this.observer.cacheAction?.(b.config.engine, outcome.action, outcome.result);
  }

  /**
   * Everything the run may hold: every replica it was tagged on or left tokens on, where none of its
   * calls is in flight (the last call there does it). `keep`: the policy keeps the cache; Orla only
   * forgets its own assignments (a llama.cpp slot goes back to the pool, unerased).
   */
  releaseAll(run: RunRecord, reason: string, keep = false): void {
    for (const b of this.backends.values()) {
      if ((run.inFlightOn[b.name] ?? 0) > 0) continue;
      const urls = new Set(run.unreleased[b.name]);
      for (const url of b.replicas) if ((run.resident[url] ?? 0) > 0) urls.add(url);
      for (const url of urls) {
        if (keep) this.adapters.get(b.name)?.forget?.(run.id, url);
        else void this.release(run, b.name, url, reason);
      }
    }
  }
}
