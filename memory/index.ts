import type { Config } from '../config/schema.js';
import type { CompletedBy, RunOp, RunRecord, RunStore } from '../state.js';
import type { CacheHint } from '../identity.js';
import { endOps, finalDecision, type CallOutcome, type Release } from './call-end.js';
import { beginOps, cacheHeader, planCall, type CachePlan, type PlanInput } from './plan.js';
import { cachePolicy } from './policies/index.js';
import { PressureMonitor } from './pressure.js';
import { ToolWaitEstimate } from './reclaim.js';
import { Releaser, type MemoryObserver } from './releaser.js';
import type { CacheAdapter } from '../upstream/engines/index.js';
import type { CachePolicy, MemoryBackend } from './types.js';

export type { CachePlan } from './plan.js';
export type { CallOutcome } from './call-end.js';
export type { MemoryObserver } from './releaser.js';
export type { MemoryBackend } from './types.js';

/**
 * The memory manager: a call's cache plan (plan.ts), its part of the call's end (call-end.ts), the
 * releases that follow (releaser.ts), the end of a run, and the pressure rule (pressure.ts). The
 * run's cache facts live in its record; memory keeps no per-run state of its own.
 */
export class Memory {
  readonly toolWait = new ToolWaitEstimate();
  readonly policy: CachePolicy;
  private readonly stageHints: ReadonlyMap<string, CacheHint>;
  private readonly releaser: Releaser;
  readonly pressure: PressureMonitor;

  constructor(
    private readonly config: Config,
    backends: readonly MemoryBackend[],
    store: RunStore,
    private readonly observer: MemoryObserver = {},
    /** Each backend's cache adapter; default its engine's. */
    cacheOf?: (backend: MemoryBackend) => CacheAdapter,
  ) {
    this.policy = cachePolicy(config.memory.policy);
    this.stageHints = new Map(Object.entries(config.stages).map(([name, s]) => [name, s.cache]));
    const byName = new Map(backends.map((b) => [b.name, b]));
    this.releaser = new Releaser(store, byName, observer, cacheOf);
    this.pressure = new PressureMonitor(config, byName, store, this.releaser, this.toolWait);
  }

  /** Memory's part of a call's start, applied with the run's own. */
  beginOps(backend: string): readonly RunOp[] {
    return beginOps(backend);
  }

  /** The call's plan, from its run as the call found it; the releases of the switch rule start now. */
  plan(input: PlanInput, now = Date.now()): CachePlan {
    if (input.run.toolWaitSince !== undefined) this.toolWait.observe(now - input.run.toolWaitSince); // the tool has answered
    const plan = planCall(input, this.policy, this.stageHints, this.config.memory.affinity);
    for (const { backend, replicas } of plan.leaving) for (const replica of replicas) void this.releaser.release(input.run, backend, replica, 'backend-switch', { cause: input.cause });
    return plan;
  }

  /**
   * Makes the run's cache addressable on the replica an attempt got (a slot, a session): the request's
   * body and headers with the engine's tags, copied only where there are some (each attempt is tagged
   * for its own replica). A failed or retried attempt's replica joins what the run's release must cover.
   */
  tag<B extends Record<string, unknown>>(plan: CachePlan, replica: string, body: B, headers: Record<string, string>): { body: B; headers: Record<string, string> } {
    const tags = this.releaser.adapter(plan.backend)?.tagRequest?.(plan.run, replica);
    if (!tags) return { body, headers };
    if (tags.ended) plan.ended.push(tags.ended);
    if (!plan.tagged.includes(replica)) plan.tagged.push(replica);
    // Object.assign, not spreads: on Node 20 spreading a map of headers took ten times as long.
    return { body: tags.body ? Object.assign({}, body, tags.body) : body, headers: tags.headers ? Object.assign({}, headers, tags.headers) : headers };
  }

  /**
   * X-Orla-Cache. `toolCalls` is known when the whole response is read before its headers go (not
   * for streams): then a flush the agent loop puts off says so.
   */
  header(plan: CachePlan, replica: string, toolCalls?: boolean): string {
    const decision = toolCalls === undefined ? plan.decision : finalDecision(plan, { replica, tokens: 0, toolCalls }, this.policy);
    return cacheHeader(plan, replica, decision);
  }

  /** Memory's part of the call's end, applied with the run's own; `releases` are carried out by `after`. */
  endOps(plan: CachePlan, outcome: CallOutcome, now = Date.now()): { ops: RunOp[]; releases: Release[] } {
    for (const ended of plan.ended.splice(0)) ended();
    return endOps(plan, outcome, finalDecision(plan, outcome, this.policy), now);
  }

  /**
   * After the call's end is recorded (`run` as it is now; undefined when it was dropped meanwhile):
   * the call's own releases, or, when the run has ended (by this call, or while it ran), everything
   * it holds where nothing of it is in flight.
   */
  after(plan: CachePlan, releases: readonly Release[], run: RunRecord | undefined, endedRun: boolean): void {
    if (!run) return;
    if (run.completed) return this.ended(run, endedRun ? 'workflow-done' : run.completed.by, plan.cause);
    for (const { backend, replicas, reason } of releases) {
      for (const replica of replicas) void this.releaser.release(run, backend, replica, reason, { landed: true, cause: plan.cause });
    }
  }

  /** The run has ended (done, completed, idle, evicted): release what it holds, as the policy says; `cause`: the call that ended it, for tracing. */
  ended(run: RunRecord, by: CompletedBy, cause?: unknown): void {
    if (by === 'idle' || by === 'evicted') this.observer.runEnded?.(by);
    const keep = this.policy.decide({ event: 'end', hint: 'auto', toolCalls: false, deferred: false }) !== 'release';
    this.releaser.releaseAll(run, `completed:${by}`, keep, cause);
  }

  /** Resolves once no release is under way: what a gateway waits for before it stops. */
  settled(): Promise<void> {
    return this.releaser.settled();
  }

  start(): void {
    this.pressure.start();
  }

  stop(): void {
    this.pressure.stop();
  }
}
