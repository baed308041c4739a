import { LRUCache } from 'lru-cache';
import type { BackendConfig } from '../config/schema.js';
import { clientClosed, deadlineExceeded, queueFull, unavailable } from '../errors.js';
import type { AbortLike } from '../cancel.js';
import { CircuitBreaker } from './circuit.js';
import type { RoutingObserver } from './observer.js';
import type { PickContext, RequestScheduler, StageScheduler, Waiting } from './scheduler/types.js';
import type { UpstreamClient } from '../upstream/clients/types.js';

export class Replica {
  inFlight = 0;
  constructor(readonly url: string, readonly client: UpstreamClient, readonly circuit: CircuitBreaker) {}
}

/** What a request brings to a backend's queue. */
export interface Ticket {
  /** The stage's queue it waits in (the requested stage name). */
  stage: string;
  /** The configured stage it maps to, for metric labels (bounded by the config); default `stage`. */
  metricsStage?: string | undefined;
  run: string | undefined;
  priority: number;
  promptTokens: number;
  /** Its configured stage's level-2 policy and `fair` weight. */
  requestScheduler: RequestScheduler;
  weight: number;
  /** X-Orla-Deadline-Ms: not dispatched this long after `arrivedAt` → 408. */
  deadlineMs?: number | undefined;
  /** When the client's request arrived (performance.now()); default: when it joins the queue. */
  arrivedAt?: number | undefined;
  signal?: AbortLike | undefined;
  /** A replica to avoid if another is free (a retry). */
  avoid?: Replica | undefined;
  /** The replica holding the run's prefix: preferred while its load stays bounded. */
  affinity?: Replica | undefined;
}

/** `failure` counts against the replica's circuit; `neutral` (client left, 4xx) does not. */
export type Outcome = 'success' | 'failure' | 'neutral';

/** A slot on one replica, held until the response is complete. */
export interface Lease {
  readonly replica: Replica;
  readonly queueMs: number;
  /** Frees the slot (once); `tokens` served count toward the run's attained service. */
  release(outcome: Outcome, tokens?: number): void;
}

interface Entry extends Waiting {
  readonly ticket: Ticket;
  resolve(lease: Lease): void;
  reject(err: unknown): void;
  cleanup(): void;
}

const DRAIN_SAMPLES = 32;

/**
 * One backend: its replicas, at most `max_concurrency` requests in flight on each, and the
 * two-level queue in front of them. A request is dispatched the moment a slot frees.
 */
export class Backend {
  private readonly queues = new Map<string, Entry[]>();
  private waiting = 0;
  private seq = 0;
  private maxConcurrency: number;
  private rotate = 0;
  private readonly served = new LRUCache<string, number>({ max: 10_000 });
  private readonly completions: number[] = [];
  private probeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
    readonly replicas: readonly Replica[],
    private readonly stageScheduler: StageScheduler,
    private readonly agingMs: number,
    private readonly observer: RoutingObserver = {},
    /** A preferred replica is passed over when its load exceeds this many times the average. */
    private readonly affinityLoadFactor = 1.5,
  ) {
    this.maxConcurrency = config.max_concurrency;
  }

  get queued(): number {
    return this.waiting;
  }

  /** No replica can take a request now or after a probe delay: every circuit is open. */
  circuitOpen(now = performance.now()): boolean {
    return this.replicas.every((r) => r.circuit.state === 'open' && r.circuit.msUntilProbe(now) > 0);
  }

  /** How long a new request would wait, from the recent drain rate. */
  estimatedWaitMs(): number {
    if (this.waiting === 0) return 0;
    const n = this.completions.length;
    if (n < 2) return Infinity;
    const perMs = (n - 1) / Math.max(1, this.completions[n - 1]! - this.completions[0]!);
    return this.waiting / perMs;
  }

  acquire(ticket: Ticket): Promise<Lease> {
    if (ticket.signal?.aborted) return Promise.reject(clientClosed());
    const now = performance.now();
    if (ticket.deadlineMs !== undefined && now - (ticket.arrivedAt ?? now) >= ticket.deadlineMs) {
      this.observer.rejected?.(this.name, 'deadline'); // spent before it got here (a classifier's wait)
      return Promise.reject(deadlineExceeded(ticket.deadlineMs));
    }
    if (this.waiting === 0) {
      const replica = this.freeReplica(now, ticket);
      if (replica) return Promise.resolve(this.lease(replica, ticket, now));
    }
    if (this.circuitOpen(now)) {
      this.observer.rejected?.(this.name, 'circuit_open');
      const retryMs = Math.min(...this.replicas.map((r) => r.circuit.msUntilProbe(now)));
      return Promise.reject(unavailable(`backend ${this.name}: every replica is failing (circuit open)`, retryMs / 1000));
    }
    if (this.waiting >= this.config.queue_limit) {
      this.observer.rejected?.(this.name, 'queue_full');
      const wait = this.estimatedWaitMs();
      return Promise.reject(queueFull(this.name, Number.isFinite(wait) ? wait / 1000 : 1));
    }
    return new Promise<Lease>((resolve, reject) => this.enqueue(ticket, now, resolve, reject));
  }

  /** Takes effect at once: a higher limit dispatches waiting requests now; a lower one lets in-flight ones finish. */
  setMaxConcurrency(limit: number): void {
    this.maxConcurrency = limit;
    this.pump();
  }

  snapshot() {
    return {
      name: this.name,
      engine: this.config.engine,
      max_concurrency: this.maxConcurrency,
      queue_limit: this.config.queue_limit,
      waiting: this.waiting,
      estimated_wait_ms: Number.isFinite(this.estimatedWaitMs()) ? Math.round(this.estimatedWaitMs()) : null,
      queues: Object.fromEntries([...this.queues].map(([stage, q]) => [stage, q.length])),
      replicas: this.replicas.map((r) => ({ url: r.url, in_flight: r.inFlight, circuit: r.circuit.state })),
    };
  }

  private enqueue(ticket: Ticket, now: number, resolve: (lease: Lease) => void, reject: (err: unknown) => void): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const leave = (err: unknown) => {
      if (!this.remove(entry)) return;
      entry.cleanup();
      reject(err);
    };
    const onAbort = () => leave(clientClosed());
    const entry: Entry = {
      seq: this.seq++,
      stage: ticket.stage,
      run: ticket.run,
      priority: ticket.priority,
      promptTokens: ticket.promptTokens,
      enqueuedAt: now,
      ticket,
      resolve,
      reject,
      cleanup: () => {
        clearTimeout(timer);
        ticket.signal?.removeEventListener('abort', onAbort);
      },
    };
    const queue = this.queues.get(ticket.stage);
    if (queue) queue.push(entry);
    else this.queues.set(ticket.stage, [entry]);
    this.waiting++;
    this.observer.queueDepth?.(this.name, ticket.metricsStage ?? ticket.stage, 1);
    ticket.signal?.addEventListener('abort', onAbort, { once: true });
    if (ticket.deadlineMs !== undefined) {
      const deadlineMs = ticket.deadlineMs;
      timer = setTimeout(() => {
        this.observer.rejected?.(this.name, 'deadline');
        leave(deadlineExceeded(deadlineMs));
      }, deadlineMs - (now - (ticket.arrivedAt ?? now)));
    }
  }

  private remove(entry: Entry): boolean {
    const queue = this.queues.get(entry.stage);
    const at = queue ? queue.indexOf(entry) : -1;
    if (at < 0) return false;
    queue!.splice(at, 1);
    if (queue!.length === 0) this.queues.delete(entry.stage);
    this.waiting--;
    this.observer.queueDepth?.(this.name, entry.ticket.metricsStage ?? entry.stage, -1);
    return true;
  }

  private pump(): void {
    while (this.waiting > 0) {
      const now = performance.now();
      if (!this.freeReplica(now)) return this.wakeForProbe(now);
      const entry = this.next(now);
      const replica = this.freeReplica(now, entry.ticket)!;
      this.remove(entry);
      entry.cleanup();
      entry.resolve(this.lease(replica, entry.ticket, entry.enqueuedAt));
    }
  }

  /** The two levels: the stage scheduler picks a stage's queue, its request scheduler the request. */
  private next(now: number): Entry {
    const context: PickContext = { now, agingMs: this.agingMs, attainedService: (run) => (run ? this.served.get(run) ?? 0 : 0) };
    let queue: Entry[];
    if (this.queues.size === 1) queue = this.queues.values().next().value!;
    else {
      const views = [...this.queues].map(([stage, waiting]) => ({ stage, waiting, weight: waiting[0]!.ticket.weight }));
      queue = views[this.stageScheduler.pick(views, context)]!.waiting;
    }
    return queue.length === 1 ? queue[0]! : queue[queue[0]!.ticket.requestScheduler.pick(queue, context)]!;
  }

  /**
   * The replica for a request: its affinity replica if that can take it and is not overloaded
   * (bounded load: at most `affinityLoadFactor` times the average in flight); otherwise the least
   * busy replica with a free slot whose circuit admits a request, ties rotating.
   */
  private freeReplica(now: number, ticket?: Ticket): Replica | undefined {
    const preferred = ticket?.affinity;
    if (preferred && preferred !== ticket.avoid && this.canTake(preferred, now)) {
      const average = this.replicas.reduce((sum, r) => sum + r.inFlight, 0) / this.replicas.length;
      if (preferred.inFlight + 1 <= Math.max(1, this.affinityLoadFactor * (average + 1))) return preferred;
    }
    const avoid = ticket?.avoid;
    let best: Replica | undefined;
    const count = this.replicas.length;
    for (let i = 0; i < count; i++) {
      const r = this.replicas[(this.rotate + i) % count]!;
      if (!this.canTake(r, now)) continue;
      if (!best || (best === avoid && r !== avoid) || (r !== avoid && r.inFlight < best.inFlight)) best = r;
    }
    this.rotate = (this.rotate + 1) % count;
    return best;
  }

  private canTake(replica: Replica, now: number): boolean {
    return replica.inFlight < this.maxConcurrency && replica.circuit.admits(now);
  }

  private lease(replica: Replica, ticket: Ticket, enqueuedAt: number): Lease {
    replica.inFlight++;
    const probe = replica.circuit.sent();
    this.observer.inFlight?.(this.name, ticket.metricsStage ?? ticket.stage, 1);
    const queueMs = performance.now() - enqueuedAt;
    this.observer.waited?.(this.name, ticket.stage, queueMs);
    let released = false;
    return {
      replica,
      queueMs,
      release: (outcome, tokens) => {
        if (released) return;
        released = true;
        const now = performance.now();
        replica.inFlight--;
        // A neutral end says nothing of the replica: a probe gives its slot back (pump() below sends the next).
        if (outcome === 'neutral') replica.circuit.probeAbandoned(probe);
        else replica.circuit.record(outcome === 'success', now);
        if (tokens && ticket.run) this.served.set(ticket.run, (this.served.get(ticket.run) ?? 0) + tokens);
        this.completions.push(now);
        if (this.completions.length > DRAIN_SAMPLES) this.completions.shift();
        this.observer.inFlight?.(this.name, ticket.metricsStage ?? ticket.stage, -1);
        this.pump();
      },
    };
  }

  /** Requests wait while every circuit is open: look again when the first may probe. */
  private wakeForProbe(now: number): void {
    if (this.probeTimer || !this.replicas.some((r) => r.circuit.state === 'open')) return;
    const ms = Math.min(...this.replicas.map((r) => r.circuit.msUntilProbe(now)));
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.pump();
    }, ms);
    this.probeTimer.unref?.();
  }
}
