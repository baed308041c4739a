import type { BackendConfig } from '../config/schema.js';
import { clientClosed, deadlineExceeded } from '../errors.js';
import { Admission } from './admission.js';
import type { AdmissionBackend, BackendSnapshot } from './admission-backend.js';
import { ownLimits, type SlotGate } from './capacity.js';
import type { RoutingObserver } from './observer.js';
import type { ReplicaPicker } from './pickers/index.js';
import type { Replica } from './replica.js';
import type { StageScheduler } from './scheduler/types.js';
import { StageQueues, type QueueEntry, type StagePolicy } from './stage-queues.js';
import type { Lease, Ticket } from './ticket.js';

export type { Lease, Outcome, Ticket } from './ticket.js';
export { Replica } from './replica.js';

interface Entry extends QueueEntry {
  resolve(lease: Lease): void;
  reject(err: unknown): void;
  cleanup(): void;
}

export interface BackendParts {
  stageScheduler: StageScheduler;
  /** The queue policy of a configured stage. */
  stagePolicy(configuredStage: string): StagePolicy;
  /** Each tenant's share of the backend when tenants contend; undefined without tenants. */
  tenantWeight?: ((tenant: string) => number) | undefined;
  picker: ReplicaPicker;
  agingMs: number;
  observer?: RoutingObserver;
  /** This gateway's part of the limits (default: all of them; in a fleet, its share). */
  gate?: SlotGate;
}

/**
 * One backend: its replicas, at most `max_concurrency` requests in flight on each, the two-level
 * queue in front of them (stage-queues.ts), what turns a request away (admission.ts) and which
 * replica serves it (pickers/). A request is dispatched the moment a slot frees.
 */
export class Backend implements AdmissionBackend {
  private readonly queues: StageQueues<Entry>;
  private readonly admission: Admission;
  private readonly picker: ReplicaPicker;
  private readonly observer: RoutingObserver;
  private readonly gate: SlotGate;
  private maxConcurrency: number;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
    readonly replicas: readonly Replica[],
    parts: BackendParts,
  ) {
    this.maxConcurrency = config.max_concurrency;
    this.observer = parts.observer ?? {};
    this.gate = parts.gate ?? ownLimits;
    this.queues = new StageQueues<Entry>(parts.stageScheduler, parts.stagePolicy, parts.agingMs, parts.tenantWeight);
    this.admission = new Admission(name, config.queue_limit, this.observer);
    this.picker = parts.picker;
  }

  get queued(): number {
    return this.queues.size;
  }

  /** No replica can take a request now or after a probe delay: every circuit is open. */
  circuitOpen(now = performance.now()): boolean {
    return this.probeInMs(now) !== undefined;
  }

  /** How long a new request would wait, from the recent drain rate. */
  estimatedWaitMs(): number {
    return this.admission.estimatedWaitMs(this.queues.size);
  }

  acquire(ticket: Ticket): Promise<Lease> {
    const now = performance.now();
    const refused = this.admission.refusal(ticket, now);
    if (refused) return Promise.reject(refused);
    if (this.queues.size === 0) {
      const replica = this.pick(now, ticket);
      if (replica) return Promise.resolve(this.lease(replica, ticket, now));
    }
    const full = this.admission.queueRefusal(this.queues.size, this.probeInMs(now), this.gate.queueLimit(this.name, this.config.queue_limit));
    if (full) return Promise.reject(full);
    return new Promise<Lease>((resolve, reject) => this.enqueue(ticket, now, resolve, reject));
  }

  /** The configured max_concurrency per replica (PATCH changes it); `gate` may give this gateway less of it. */
  get configuredConcurrency(): number {
    return this.maxConcurrency;
  }

  /** This gateway's limits changed (a fleet share grew): dispatch what may go now. */
  reconsider(): void {
    this.pump();
  }

  /** Takes effect at once: a higher limit dispatches waiting requests now; a lower one lets in-flight ones finish. */
  setMaxConcurrency(limit: number): void {
    this.maxConcurrency = limit;
    this.pump();
  }

  snapshot(): BackendSnapshot {
    const wait = this.estimatedWaitMs();
    return {
      name: this.name,
      engine: this.config.engine,
      max_concurrency: this.maxConcurrency,
      queue_limit: this.config.queue_limit,
      // What this gateway may use of them now (all of them, unless it shares them with a fleet).
      gateway_share: { max_concurrency: this.gate.concurrency(this.name, this.maxConcurrency), queue_limit: this.gate.queueLimit(this.name, this.config.queue_limit) },
      waiting: this.queues.size,
      estimated_wait_ms: Number.isFinite(wait) ? Math.round(wait) : null,
      queues: this.queues.depths(),
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
      seq: this.queues.nextSeq(),
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
    this.queues.add(entry);
    this.observer.queueDepth?.(this.name, ticket.stage, 1);
    this.gate.waiting?.(this.name);
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
    if (!this.queues.remove(entry)) return false;
    this.observer.queueDepth?.(this.name, entry.stage, -1);
    return true;
  }

  private pump(): void {
    while (this.queues.size > 0) {
      const now = performance.now();
      // Whether a slot is free before asking the schedulers: their picks change their state (fair's credit).
      const free = this.free(now);
      if (free.length === 0) return this.wakeForProbe(now);
      const entry = this.queues.next(now);
      this.remove(entry);
      entry.cleanup();
      entry.resolve(this.lease(this.picker.pick(free, this.replicas, entry.ticket), entry.ticket, entry.enqueuedAt));
    }
  }

  /** The replicas that can take a request now: a slot free, the circuit admitting. */
  private free(now: number): Replica[] {
    const limit = this.gate.concurrency(this.name, this.maxConcurrency);
    return this.replicas.filter((r) => r.inFlight < limit && r.circuit.admits(now));
  }

  /** The replica for a request among those that can take one now; undefined when none can. */
  private pick(now: number, ticket: Ticket): Replica | undefined {
    const free = this.free(now);
    return free.length === 0 ? undefined : this.picker.pick(free, this.replicas, ticket);
  }

  private lease(replica: Replica, ticket: Ticket, enqueuedAt: number): Lease {
    replica.inFlight++;
    const probe = replica.circuit.sent();
    const stage = ticket.stage;
    this.observer.inFlight?.(this.name, stage, 1);
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
        if (tokens && ticket.run) this.queues.serve(ticket.run, tokens);
        this.admission.completed(now);
        this.observer.inFlight?.(this.name, stage, -1);
        this.pump();
      },
    };
  }

  /** Until the first replica may probe, when every circuit is open; undefined while one admits. */
  private probeInMs(now: number): number | undefined {
    if (!this.replicas.every((r) => r.circuit.state === 'open' && r.circuit.msUntilProbe(now) > 0)) return undefined;
    return Math.min(...this.replicas.map((r) => r.circuit.msUntilProbe(now)));
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
