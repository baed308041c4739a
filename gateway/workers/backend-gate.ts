import type { BackendSnapshot } from '../../routing/admission-backend.js';
import type { Backend, Lease, Outcome, Ticket } from '../../routing/backend.js';
import { Leases, toWire, Waiting, type WireError } from './leases.js';

// One backend's admission, as its Durable Object holds it for every isolate: the same Backend as on
// Node (routing/backend.ts: admission, the two-level queue, circuits, the replica picker), whose
// requests are tickets sent by Workers and whose slots are leases they hold while they stream the
// engine's answer themselves. A lease that is not renewed expires, so an isolate that dies returns
// its slots (leases.ts).

/** A ticket as a Worker sends it: times are relative (each isolate has its own clock). */
export interface WireTicket {
  stage: string;
  run: string | undefined;
  /** The tenant of the request's key: tenants share a saturated backend by their weights here too. */
  tenant: string | undefined;
  priority: number;
  promptTokens: number;
  /** X-Orla-Deadline-Ms, counted from the request's arrival. */
  deadlineMs: number | undefined;
  /** How long ago the request arrived at the Worker. */
  waitedMs: number;
  /** A replica URL to avoid if another is free (a retry). */
  avoid: string | undefined;
  affinity: string | undefined;
  prefixHash: number | undefined;
}

export type { WireError };

/** The backend's load as of an answer: what mappers, rerouting and /v1/backends read. */
export interface AdmissionView {
  snapshot: BackendSnapshot;
  circuitOpen: boolean;
  estimatedWaitMs: number;
}

export type AcquireReply =
  | { granted: true; leaseId: string; replica: string; queueMs: number; view: AdmissionView }
  | { granted: false; error: WireError; view: AdmissionView };

export class BackendGate {
  private readonly leases: Leases<Lease>;
  private readonly waiting = new Waiting();

  constructor(
    readonly backend: Backend,
    now: () => number = Date.now,
  ) {
    // Its holder's isolate died: the slot comes back, with no verdict on the replica.
    this.leases = new Leases((lease) => lease.release('neutral'), now);
  }

  async acquire(ticketId: string, wire: WireTicket, leaseTtlMs: number): Promise<AcquireReply> {
    const ticket: Ticket = {
      stage: wire.stage,
      run: wire.run,
      tenant: wire.tenant,
      priority: wire.priority,
      promptTokens: wire.promptTokens,
      deadlineMs: wire.deadlineMs,
      arrivedAt: performance.now() - wire.waitedMs,
      signal: this.waiting.enter(ticketId),
      avoid: this.backend.replicas.find((r) => r.url === wire.avoid),
      affinity: wire.affinity,
      prefixHash: wire.prefixHash,
    };
    try {
      const lease = await this.backend.acquire(ticket);
      const leaseId = this.leases.add(lease, leaseTtlMs);
      return { granted: true, leaseId, replica: lease.replica.url, queueMs: lease.queueMs, view: this.view() };
    } catch (err) {
      return { granted: false, error: toWire(err), view: this.view() };
    } finally {
      this.waiting.exit(ticketId);
    }
  }

  /** The client of a waiting ticket left: it leaves the queue (its acquire answers 499). */
  leave(ticketId: string): void {
    this.waiting.leave(ticketId);
  }

  release(leaseId: string, outcome: Outcome, tokens: number | undefined): AdmissionView {
    this.leases.take(leaseId)?.release(outcome, tokens);
    return this.view();
  }

  /** The holder is alive: its leases last `leaseTtlMs` more. */
  renew(leaseIds: readonly string[], leaseTtlMs: number): AdmissionView {
    this.leases.renew(leaseIds, leaseTtlMs);
    return this.view();
  }

  /** Frees the slots of holders that stopped renewing (their isolate died). */
  expireLeases(): number {
    return this.leases.expire();
  }

  setMaxConcurrency(limit: number): AdmissionView {
    this.backend.setMaxConcurrency(limit);
    return this.view();
  }

  view(): AdmissionView {
    return { snapshot: this.backend.snapshot(), circuitOpen: this.backend.circuitOpen(), estimatedWaitMs: this.backend.estimatedWaitMs() };
  }

  get held(): number {
    return this.leases.size;
  }
}
