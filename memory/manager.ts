import type { Config } from '../config/schema.js';
import type { Backend, Replica } from '../routing/backends.js';
import type { Identity } from '../sessions/identity.js';
import { Ledger } from './ledger.js';
import { byPromptOpening } from './placement.js';
import { addUnique, recordAction, type CacheActionRecord, type RunRecord, type SessionStore } from '../sessions/runs.js';
import { cachePolicy } from './policies/index.js';
import { ToolWaitEstimate } from './reclaim.js';
import type { CacheAdapter, ReleaseContext } from '../upstream/engines/index.js';
import type { CacheDecision, CachePolicy } from './types.js';

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
  /** The backends whose cache this run is leaving (comma-separated), if any. */
  leaving: string | undefined;
  workflowDone: boolean;
  model: string | undefined;
  /** The call's stage (the requested one, else the configured one): a flush hint waits out its agent loop. */
  stage: string;
  /** The decision is a flush hint's (the stage's or the request's), not the policy's nor the run's end. */
  flushHint: boolean;
  /** What the engine's adapter asked to hear when the call's requests end (a slot free again). */
  ended: (() => void)[];
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
  private readonly ledger = new Ledger();
  private readonly stageHints: Map<string, 'preserve' | 'flush' | 'auto'>;
  private readonly affinityOn: boolean;

  constructor(
    config: Config,
    readonly store: SessionStore,
    private readonly backends: ReadonlyMap<string, Backend>,
    private readonly adapters: ReadonlyMap<string, CacheAdapter>,
    private readonly observer: MemoryObserver = {},
  ) {
    this.policy = cachePolicy(config.memory.policy);
    this.affinityOn = config.memory.affinity;
    this.stageHints = new Map(Object.entries(config.stages).map(([name, s]) => [name, s.cache]));
  }

  /**
   * Where a request that belongs to no run goes (a prompt-only completion, an embedding): a replica
   * picked by a hash of its prompt's opening, so requests that share a prefix meet where it is
   * cached (bounded load still applies). Undefined with one replica, affinity off, or no prompt.
   */
  prefixPlacement(body: Readonly<Record<string, unknown>>, backend: Backend): Replica | undefined {
    return this.affinityOn ? byPromptOpening(body, backend.replicas) : undefined;
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
    // With parallel stages, "the old one" is any other backend where the run still holds something
    // and has no call in flight (a sibling stage still running there keeps it). A release takes the
    // replicas out of `unreleased`, so a second sibling planned here does not release them again.
    const leaving: string[] = [];
    for (const [name, replicas] of Object.entries(run.unreleased)) {
      if (name === backend.name || replicas.length === 0 || (run.inFlightOn[name] ?? 0) > 0) continue;
      leaving.push(name);
      for (const url of [...replicas]) this.releaseAt(run, name, url, 'backend-switch');
    }
    run.inFlightOn[backend.name] = (run.inFlightOn[backend.name] ?? 0) + 1;
    const affinity = this.affinityOn && run.lastBackend === backend.name ? backend.replicas.find((r) => r.url === run.lastReplica) : undefined;

    const hint = identity.cache ?? this.stageHints.get(configuredStage) ?? 'auto';
    let decision: CacheDecision;
    let reason: string;
    if (identity.workflowDone) [decision, reason] = ['release', 'workflow-done'];
    else if (hint !== 'auto') [decision, reason] = [hint === 'flush' ? 'release' : 'preserve', `hint=${hint}`];
    else [decision, reason] = [this.policy.afterCall({ hint, workflowDone: false }), `policy=${this.policy.name}`];
    return {
      run, backend, affinity, decision, reason,
      leaving: leaving.length > 0 ? leaving.join(',') : undefined,
      workflowDone: identity.workflowDone,
      model,
      stage: identity.stage ?? configuredStage,
      flushHint: !identity.workflowDone && hint === 'flush',
      ended: [],
    };
  }

  /**
   * Makes the run's cache addressable on the replica it got (session id, slot), on copies of the
   * request's body and headers: each dispatch attempt is tagged for its own replica. An attempt that
   * fails or is retried elsewhere leaves the adapter's session or slot assignment there too, so the
   * replica joins what the run's release must cover.
   */
  tag<B extends Record<string, unknown>>(plan: Plan, replica: Replica, body: B, headers: Record<string, string>): { body: B; headers: Record<string, string> } {
    const adapter = this.adapters.get(plan.backend.name);
    if (!adapter?.tagRequest) return { body, headers };
    const tagged = { body: { ...body }, headers: { ...headers } };
    const ended = adapter.tagRequest(plan.run.id, replica.url, tagged.body, tagged.headers);
    if (ended) plan.ended.push(ended);
    addUnique((plan.run.unreleased[plan.backend.name] ??= []), replica.url);
    return tagged;
  }

  /**
   * X-Orla-Cache: the action and why, with where the call landed relative to the run's prefix.
   * `toolCalls` is known when the whole response is read before its headers go (not for streams):
   * then a flush hint that the agent loop puts off says so (see afterCall).
   */
  header(plan: Plan, replica: Replica, toolCalls = false): string {
    const placement = plan.affinity === undefined ? 'new' : plan.affinity === replica ? 'hit' : 'moved';
    const deferred = toolCalls && plan.flushHint;
    let value = deferred ? `preserve; ${plan.reason}; deferred=tool-calls` : `${plan.decision}; ${plan.reason}`;
    value += `; replica=${placement}`;
    if (plan.leaving) value += `; released=${plan.leaving}`;
    return value;
  }

  /**
   * The call is over; `result` is absent when it failed or the client left (nothing to account),
   * `failure` says why it failed.
   */
  completed(plan: Plan, result: CallResult | undefined, failure?: { status: number; message: string }): void {
    const { run, backend } = plan;
    const now = Date.now();
    for (const ended of plan.ended.splice(0)) ended();
    if (failure) {
      run.failedCalls++;
      run.lastError = { at: now, stage: plan.stage, backend: backend.name, ...failure };
    }
    run.inFlight = Math.max(0, run.inFlight - 1);
    const onBackend = (run.inFlightOn[backend.name] ?? 1) - 1;
    if (onBackend > 0) run.inFlightOn[backend.name] = onBackend;
    else delete run.inFlightOn[backend.name];
    run.lastActivity = now;
    if (result) this.account(plan, result, now);
    // The run's last call: it ends even when that call failed (its earlier calls left their prefixes).
    if (plan.workflowDone && run.completedAt === undefined) this.finish(run, 'workflow-done');
    // Ended (completed, released or dropped) while this call was in flight: free what was left or
    // tagged since, on each backend where nothing of the run is in flight any more (the last call
    // there does it).
    else if (run.completedAt !== undefined) this.releaseUnreleased(run, `completed:${run.completedBy}`);
    else if (result) this.afterCall(plan, result);
  }

  private account(plan: Plan, result: CallResult, now: number): void {
    const { run, backend } = plan;
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
    this.ledger.setResident(run, result.replica.url, tokens);
    if (tokens > 0) addUnique((run.unreleased[backend.name] ??= []), result.replica.url);
    run.waitingOnTool = result.toolCalls;
    if (result.toolCalls) run.toolWaitSince = now;
  }

  /**
   * The call's own decision. Rule: a flush hint waits out its stage's agent loop. A turn that ends
   * in tool calls is followed by that stage's next turn, which extends this very context: flushing
   * now would throw away what the next turn reuses. So the flush is put off (per stage) and carried
   * out when a turn of that stage ends without tool calls, whatever that turn's own hint; a run that
   * never comes back is released at its end (idle TTL at the latest), and the pressure rule may take
   * it before. The flush-per-request policy is the baseline to beat and is never put off.
   */
  private afterCall(plan: Plan, result: CallResult): void {
    const { run, backend } = plan;
    const deferred = run.deferredFlush[plan.stage];
    // Put off: a hinted flush, or one already waiting, unless this turn's own policy releases now.
    if (result.toolCalls && (plan.flushHint || (deferred && plan.decision !== 'release'))) {
      let waiting = deferred;
      if (!waiting || waiting.backend !== backend.name) {
        waiting = run.deferredFlush[plan.stage] = { reason: plan.flushHint ? plan.reason : waiting!.reason, backend: backend.name, replicas: [] };
      }
      addUnique(waiting.replicas, result.replica.url);
      return;
    }
    if (deferred) {
      delete run.deferredFlush[plan.stage];
      for (const url of deferred.replicas) {
        if (deferred.backend !== backend.name || url !== result.replica.url) this.releaseAt(run, deferred.backend, url, deferred.reason);
      }
      void this.release(run, backend, result.replica, plan.flushHint ? plan.reason : deferred.reason, false, true);
    } else if (plan.decision === 'release') {
      void this.release(run, backend, result.replica, plan.reason, false, true);
    }
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
    this.ledger.drop(run);
    if (run.completedAt === undefined) this.finish(run, why);
  }

  /**
   * Frees `run` on `replica` through the engine's adapter, and records what happened. `landed`: the
   * run's call has just completed there (the ledger may still show 0 tokens for a call without usage).
   */
  async release(run: RunRecord, backend: Backend, replica: Replica, reason: string, underPressure = false, landed = false): Promise<void> {
    // Released from here on: a later rule need not release it again, until a call tags it or leaves tokens.
    this.unmark(run, backend.name, replica.url);
    const adapter = this.adapters.get(backend.name);
    if (!adapter) return;
    // A dropped run whose id is live again as a new record: engines know runs by id, so this release
    // would free the new run's slot or sessions. Only the old record's own count goes.
    const successor = this.ledger.isDropped(run) ? this.store.peek(run.id) : undefined;
    if (successor !== undefined && successor !== run) {
      this.ledger.setResident(run, replica.url, 0);
      this.record(run, backend, replica.url, { action: 'release', result: 'skipped', detail: 'a newer run with this id is live' }, reason);
      return;
    }
    const context: ReleaseContext = {
      othersInFlight: replica.inFlight > 0,
      othersCached: this.ledger.othersOn(replica.url, run),
      underPressure,
    };
    if (!landed && (run.resident[replica.url] ?? 0) === 0) context.onlyTagged = true;
    let outcome: Pick<CacheActionRecord, 'action' | 'result' | 'detail'>;
    try {
      outcome = await adapter.releaseRun(run.id, { url: replica.url, inFlight: replica.inFlight }, context);
    } catch (err) {
      outcome = { action: 'release', result: 'failed', detail: (err as Error).message };
    }
    if (outcome.result === 'ok') this.ledger.setResident(run, replica.url, 0);
    this.record(run, backend, replica.url, outcome, reason);
  }

  /** Runs the ledger holds on a replica (for the pressure rule). */
  runsCachedOn(replica: string): RunRecord[] {
    return this.ledger.runsOn(replica);
  }

  /** Releases everything the run may hold: every replica it was tagged on or left tokens on. */
  private finish(run: RunRecord, why: NonNullable<RunRecord['completedBy']>): void {
    run.completedAt = Date.now();
    run.completedBy = why;
    run.deferredFlush = {};
    for (const backend of this.backends.values()) {
      const urls = new Set(run.unreleased[backend.name]);
      // Tokens whose earlier release did not succeed (skipped, refused, failed): asked again at the end.
      for (const replica of backend.replicas) if ((run.resident[replica.url] ?? 0) > 0) urls.add(replica.url);
      for (const url of urls) this.releaseAt(run, backend.name, url, `completed:${why}`);
    }
  }

  /** For a run that has ended: releases what it was tagged on or left since, where none of its calls is in flight. */
  private releaseUnreleased(run: RunRecord, reason: string): void {
    for (const [name, urls] of Object.entries(run.unreleased)) {
      if ((run.inFlightOn[name] ?? 0) > 0) continue;
      for (const url of [...urls]) this.releaseAt(run, name, url, reason);
    }
  }

  private releaseAt(run: RunRecord, backendName: string, url: string, reason: string): void {
    const backend = this.backends.get(backendName);
    const replica = backend?.replicas.find((r) => r.url === url);
    if (backend && replica) void this.release(run, backend, replica, reason);
    else this.unmark(run, backendName, url); // the replica is gone: nothing left to free there
  }

  private unmark(run: RunRecord, backendName: string, url: string): void {
    const urls = run.unreleased[backendName];
    if (!urls) return;
    const at = urls.indexOf(url);
    if (at >= 0) urls.splice(at, 1);
    if (urls.length === 0) delete run.unreleased[backendName];
  }

  private record(run: RunRecord, backend: Backend, replica: string, outcome: Pick<CacheActionRecord, 'action' | 'result' | 'detail'>, reason: string): void {
    recordAction(run, { at: Date.now(), backend: backend.name, replica, reason, ...outcome });
    this.observer.cacheAction?.(backend.config.engine, outcome.action, outcome.result);
  }
}
