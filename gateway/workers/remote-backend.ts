import { clientClosed, unavailable } from '../../errors.js';
import type { BackendConfig } from '../../config/schema.js';
import type { AdmissionBackend, BackendSnapshot } from '../../routing/admission-backend.js';
import type { Lease, Outcome, Replica, Ticket } from '../../routing/backend.js';
import type { CircuitState } from '../../routing/circuit.js';
import type { RoutingObserver } from '../../routing/observer.js';
import type { AcquireReply, AdmissionView, WireTicket } from './backend-gate.js';
import { fromWire, renewing } from './leases.js';

/** A backend's object as a Worker calls it (RPC to its Durable Object). */
export interface GateLink {
  acquire(backend: string, ticketId: string, ticket: WireTicket, leaseTtlMs: number): Promise<AcquireReply>;
  leave(backend: string, ticketId: string): Promise<void>;
  release(backend: string, leaseId: string, outcome: Outcome, tokens: number | undefined): Promise<AdmissionView>;
  renew(backend: string, leaseIds: string[], leaseTtlMs: number): Promise<AdmissionView>;
  view(backend: string): Promise<AdmissionView>;
  setMaxConcurrency(backend: string, limit: number): Promise<AdmissionView>;
}

export interface RemoteBackendOptions {
  /** Past it a lease whose holder stopped renewing frees its slot; renewed every third of it. */
  leaseTtlMs: number;
  observer?: RoutingObserver;
  /** A call to the backend's object that failed (a lease it was not told of expires on its own). */
  onError?: (err: unknown) => void;
}

/**
 * A backend whose admission lives in its Durable Object (backend-gate.ts), so that max_concurrency,
 * queue_limit and the two-level order hold across every isolate: `acquire` waits there for a lease
 * on a replica; the Worker then calls the engine itself, renews the lease while the response
 * streams, and releases it when the response ends or the client leaves. Its load figures
 * (`queued`, `circuitOpen`, `estimatedWaitMs`, each replica's in-flight count) are as of this
 * isolate's latest exchange with the object; /v1/backends asks the object.
 */
export class RemoteBackend implements AdmissionBackend {
  private view: AdmissionView | undefined;
  private readonly failed: (err: unknown) => void;

  constructor(
    readonly name: string,
    readonly config: BackendConfig,
    readonly replicas: readonly Replica[],
    private readonly gate: () => GateLink,
    private readonly options: RemoteBackendOptions,
  ) {
    this.failed = (err) => options.onError?.(err);
  }

  get queued(): number {
    return this.view?.snapshot.waiting ?? 0;
  }

  circuitOpen(): boolean {
    return this.view?.circuitOpen ?? false;
  }

  estimatedWaitMs(): number {
    return this.view?.estimatedWaitMs ?? Infinity;
  }

  async acquire(ticket: Ticket): Promise<Lease> {
    if (ticket.signal?.aborted) throw clientClosed();
    const ticketId = crypto.randomUUID();
    const leave = () => void this.gate().leave(this.name, ticketId).catch(this.failed);
    ticket.signal?.addEventListener('abort', leave, { once: true });
    let reply: AcquireReply;
    try {
      reply = await this.gate().acquire(this.name, ticketId, wireTicket(ticket), this.options.leaseTtlMs);
    } catch (err) {
      if (ticket.signal?.aborted) throw clientClosed();
      this.failed(err);
      throw unavailable(`backend ${this.name}: its admission (a Durable Object) did not answer`);
    } finally {
      ticket.signal?.removeEventListener('abort', leave);
    }
    this.update(reply.view);
    if (!reply.granted) {
      const reason = REJECTIONS[reply.error.code ?? ''];
      if (reason) this.options.observer?.rejected?.(this.name, reason);
      throw fromWire(reply.error);
    }
    return this.lease(reply.leaseId, reply.replica, reply.queueMs, ticket.stage);
  }

  async setMaxConcurrency(limit: number): Promise<void> {
    this.update(await this.gate().setMaxConcurrency(this.name, limit));
  }

  async snapshot(): Promise<BackendSnapshot> {
    const view = await this.gate().view(this.name);
    this.update(view);
    return view.snapshot;
  }

  private lease(leaseId: string, url: string, queueMs: number, stage: string): Lease {
    const replica = this.replicas.find((r) => r.url === url);
    if (!replica) throw new Error(`backend ${this.name}: its object granted a replica the config does not list (${url})`);
    const { observer } = this.options;
    observer?.inFlight?.(this.name, stage, 1);
    observer?.waited?.(this.name, stage, queueMs);
    const ttl = this.options.leaseTtlMs;
    const stopRenewing = renewing(ttl, () => void this.gate().renew(this.name, [leaseId], ttl).then((view) => this.update(view), this.failed));
    let released = false;
    return {
      replica,
      queueMs,
      release: (outcome, tokens) => {
        if (released) return;
        released = true;
        stopRenewing();
        observer?.inFlight?.(this.name, stage, -1);
        void this.gate().release(this.name, leaseId, outcome, tokens).then((view) => this.update(view), this.failed);
      },
    };
  }

  /** The object's latest answer: the load figures, each replica's in-flight count and circuit. */
  private update(view: AdmissionView): void {
    this.view = view;
    for (const seen of view.snapshot.replicas) {
      const replica = this.replicas.find((r) => r.url === seen.url);
      if (!replica) continue;
      replica.inFlight = seen.in_flight;
      const state = seen.circuit as CircuitState;
      if (replica.circuit.state !== state) {
        replica.circuit.state = state;
        this.options.observer?.circuit?.(this.name, replica.url, state);
      }
    }
  }
}

const REJECTIONS: Record<string, 'queue_full' | 'deadline' | 'circuit_open'> = {
  queue_full: 'queue_full',
  deadline_exceeded: 'deadline',
  unavailable: 'circuit_open',
};

function wireTicket(ticket: Ticket): WireTicket {
  const now = performance.now();
  return {
    stage: ticket.stage,
    run: ticket.run,
    tenant: ticket.tenant,
    priority: ticket.priority,
    promptTokens: ticket.promptTokens,
    deadlineMs: ticket.deadlineMs,
    waitedMs: ticket.arrivedAt === undefined ? 0 : Math.max(0, now - ticket.arrivedAt),
    avoid: ticket.avoid?.url,
    affinity: ticket.affinity,
    prefixHash: ticket.prefixHash,
  };
}
