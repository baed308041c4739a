import type { Config } from '../config/schema.js';
import type { Backend, Replica } from '../routing/backends.js';
import type { Identity } from '../sessions/identity.js';
import { addUnique, recordAction, type CacheActionRecord, type RunRecord, type SessionStore } from '../sessions/runs.js';
import { cachePolicy } from './policies/index.js';
import { ToolWaitEstimate } from './reclaim.js';
import type { CacheDecision, CachePolicy, EngineAdapter } from './types.js';

// Before dispatch: track the run, release its cache on a backend it is leaving, pick the replica that
// holds its prefix, and decide what becomes of the cache after the call. After the call: update the
// ledger and carry the decision out through the engine's adapter, off the response's path.

export interface MemoryObserver {
  cacheAction?(engine: string, action: string, result: string): void;
  runEnded?(why: 'idle' | 'evicted'): void;
}

export interface Plan {
  run: RunRecord;
  backend: Backend;
  affinity: Replica | undefined;
  decision: CacheDecision;
  /** Why, for X-Orla-Cache. */
  reason: string;
  /** The backend whose cache this run is leaving, if any. */
  leaving: string | undefined;
  workflowDone: boolean;
  model: string | undefined;
}

export interface CallResult {
  replica: Replica;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  costUsd: number;
  /** The response ended in tool calls: the run now waits on a tool. */
  toolCalls: boolean;
}

export class MemoryManager {
  readonly policy: CachePolicy;
  readonly toolWait = new ToolWaitEstimate();
  /** Per replica URL, the runs the ledger says have tokens cached there. */
  private readonly cachedRuns = new Map<string, Set<string>>();
  /** Runs the store has dropped: a call of theirs still in flight must not put them back in the ledger. */
  private readonly dropped = new WeakSet<RunRecord>();
  private readonly stageHints: Map<string, 'preserve' | 'flush' | 'auto'>;
  private readonly affinityOn: boolean;

  constructor(
    config: Config,
    readonly store: SessionStore,
    private readonly backends: ReadonlyMap<string, Backend>,
    private readonly adapters: ReadonlyMap<string, EngineAdapter>,
    private readonly observer: MemoryObserver = {},
  ) {
    this.policy = cachePolicy(config.memory.policy);
    this.affinityOn = config.memory.affinity;
    this.stageHints = new Map(Object.entries(config.stages).map(([name, s]) => [name, s.cache]));
  }

  /** Undefined for a request that belongs to no run. */
  plan(identity: Identity, backend: Backend, configuredStage: string, model: string | undefined): Plan | undefined {
    if (identity.run === undefined) return undefined;
    const now = Date.now();
    const run = this.store.touch(identity.run, identity.runInferred, now);
    if (run.waitingOnTool) {
      this.toolWait.observe(now - run.toolWaitSince!);
      run.waitingOnTool = false;
    }
    run.calls++;
    run.inFlight++;
    if (model !== undefined) run.lastModel = model;
    run.completedAt = undefined;
    if (identity.stage) addUnique(run.stages, identity.stage);

    // Rule: a run whose next stage maps to another backend no longer needs its prefix on the old one.
    let leaving: string | undefined;
    if (run.lastBackend && run.lastBackend !== backend.name) {
      leaving = run.lastBackend;
      this.releaseEverywhereOn(run, leaving, 'backend-switch');
    }
    const affinity = this.affinityOn && run.lastBackend === backend.name ? backend.replicas.find((r) => r.url === run.lastReplica) : undefined;

    const hint = identity.cache ?? this.stageHints.get(configuredStage) ?? 'auto';
    let decision: CacheDecision;
    let reason: string;
    if (identity.workflowDone) [decision, reason] = ['release', 'workflow-done'];
    else if (hint !== 'auto') [decision, reason] = [hint === 'flush' ? 'release' : 'preserve', `hint=${hint}`];
    else [decision, reason] = [this.policy.afterCall({ hint, workflowDone: false }), `policy=${this.policy.name}`];
    return { run, backend, affinity, decision, reason, leaving, workflowDone: identity.workflowDone, model };
  }

  /** Makes the run's cache addressable on the replica it got (session id, slot). */
  tag(plan: Plan, replica: Replica, body: Record<string, unknown>, headers: Record<string, string>): void {
    this.adapters.get(plan.backend.name)?.tagRequest?.(plan.run.id, replica.url, body, headers);
  }

  /** X-Orla-Cache: the action and why, with where the call landed relative to the run's prefix. */
  header(plan: Plan, replica: Replica): string {
    const placement = plan.affinity === undefined ? 'new' : plan.affinity === replica ? 'hit' : 'moved';
    let value = `${plan.decision}; ${plan.reason}; replica=${placement}`;
    if (plan.leaving) value += `; released=${plan.leaving}`;
    return value;
  }

  /** The call is over; `result` is absent when it failed or the client left (nothing to account). */
  completed(plan: Plan, result: CallResult | undefined): void {
    const { run, backend } = plan;
    const now = Date.now();
    run.inFlight = Math.max(0, run.inFlight - 1);
    run.lastActivity = now;
    if (!result) return;
    if (plan.affinity && plan.affinity !== result.replica) {
      this.record(run, backend, result.replica.url, { action: 'affinity_move', result: 'ok', detail: `from ${plan.affinity.url}` }, 'bounded-load');
    }
    run.lastBackend = backend.name;
    run.lastReplica = result.replica.url;
    addUnique(run.backends, backend.name);
    addUnique(run.replicas, result.replica.url);
    run.contextGrowth = result.promptTokens - run.contextTokens;
    run.contextTokens = result.promptTokens;
    run.promptTokens += result.promptTokens;
    run.cachedTokens += result.cachedTokens;
    run.completionTokens += result.completionTokens;
    run.costUsd += result.costUsd;
    const tokens = result.promptTokens + result.completionTokens;
    // A run the store dropped while this call ran is in no ledger any more: nothing would ever take
    // it out again (and it would block global flushes on the replica for good).
    if (this.dropped.has(run)) run.resident[result.replica.url] = tokens;
    else this.setResident(run, result.replica.url, tokens);
    run.waitingOnTool = result.toolCalls;
    if (result.toolCalls) run.toolWaitSince = now;
    if (plan.workflowDone) this.finish(run, 'workflow-done');
    // Ended (completed, released or dropped) while this call was in flight: free what the call left.
    else if (run.completedAt !== undefined) void this.release(run, backend, result.replica, `completed:${run.completedBy}`);
    else if (plan.decision === 'release') void this.release(run, backend, result.replica, plan.reason);
  }

  /**
   * POST /v1/workflows/{run}/complete: release everything the run holds; it stays readable. A run
   * already ended (by the idle TTL as this very lookup found it stale, or by an earlier completion)
   * is returned as it is: its releases are already under way.
   */
  complete(runId: string): RunRecord | undefined {
    const run = this.store.get(runId);
    if (run && run.completedAt === undefined) this.finish(run, 'client');
    return run;
  }

  /** The store dropped a run (idle past the TTL, or evicted for room): release what it held. */
  expired(run: RunRecord, why: 'idle' | 'evicted'): void {
    this.observer.runEnded?.(why);
    this.dropped.add(run);
    if (run.completedAt === undefined) this.finish(run, why);
    for (const runs of this.cachedRuns.values()) runs.delete(run.id); // it is gone from the store
  }

  /** Frees `run` on `replica` through the engine's adapter, and records what happened. */
  async release(run: RunRecord, backend: Backend, replica: Replica, reason: string, underPressure = false): Promise<void> {
    const adapter = this.adapters.get(backend.name);
    if (!adapter) return;
    const cached = this.cachedRuns.get(replica.url);
    const context = {
      othersInFlight: replica.inFlight > 0,
      othersCached: cached !== undefined && cached.size > (cached.has(run.id) ? 1 : 0),
      underPressure,
    };
    let outcome: Pick<CacheActionRecord, 'action' | 'result' | 'detail'>;
    try {
      outcome = await adapter.releaseRun(run.id, { url: replica.url, inFlight: replica.inFlight }, context);
    } catch (err) {
      outcome = { action: 'release', result: 'failed', detail: (err as Error).message };
    }
    if (outcome.result === 'ok') this.setResident(run, replica.url, 0);
    this.record(run, backend, replica.url, outcome, reason);
  }

  /** Runs the ledger holds on a replica (for the pressure rule). */
  runsCachedOn(replica: string): RunRecord[] {
    return [...(this.cachedRuns.get(replica) ?? [])].flatMap((id) => this.store.get(id) ?? []);
  }

  private setResident(run: RunRecord, replica: string, tokens: number): void {
    run.resident[replica] = tokens;
    let runs = this.cachedRuns.get(replica);
    if (!runs) this.cachedRuns.set(replica, (runs = new Set()));
    if (tokens > 0) runs.add(run.id);
    else runs.delete(run.id);
  }

  private finish(run: RunRecord, why: NonNullable<RunRecord['completedBy']>): void {
    run.completedAt = Date.now();
    run.completedBy = why;
    for (const backend of this.backends.values()) this.releaseEverywhereOn(run, backend.name, `completed:${why}`);
  }

  private releaseEverywhereOn(run: RunRecord, backendName: string, reason: string): void {
    const backend = this.backends.get(backendName);
    if (!backend) return;
    for (const replica of backend.replicas) {
      if ((run.resident[replica.url] ?? 0) > 0) void this.release(run, backend, replica, reason);
    }
  }

  private record(run: RunRecord, backend: Backend, replica: string, outcome: Pick<CacheActionRecord, 'action' | 'result' | 'detail'>, reason: string): void {
    recordAction(run, { at: Date.now(), backend: backend.name, replica, reason, ...outcome });
    this.observer.cacheAction?.(backend.config.engine, outcome.action, outcome.result);
  }
}
