import { ClientGone } from '../../cancel.js';
import { asOrlaError, type OrlaError } from '../../errors.js';
import type { BackendSnapshot } from '../../routing/admission-backend.js';
import type { Backend, Lease, Outcome, Ticket } from '../../routing/backend.js';

// One backend's admission, as its Durable Object holds it for every isolate: the same Backend as on
// Node (routing/backend.ts: admission, the two-level queue, circuits, the replica picker), whose
// requests are tickets sent by Workers and whose slots are leases they hold while they stream the
// engine's answer themselves. A lease that is not renewed expires, so an isolate that dies returns
// its slots.

/** A ticket as a Worker sends it: times are relative (each isolate has its own clock). */
export interface WireTicket {
  stage: string;
  run: string | undefined;
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

/** An OrlaError across RPC. */
export interface WireError {
  status: number;
  message: string;
  type: OrlaError['type'];
  code: string | null;
  param: string | null;
  retryAfterS: number | undefined;
}

/** The backend's load as of an answer: what mappers, rerouting and /v1/backends read. */
export interface AdmissionView {
  snapshot: BackendSnapshot;
  circuitOpen: boolean;
  estimatedWaitMs: number;
}

export type AcquireReply =
  | { granted: true; leaseId: string; replica: string; queueMs: number; view: AdmissionView }
  | { granted: false; error: WireError; view: AdmissionView };

interface Held {
  lease: Lease;
  expiresAt: number;
}

/** Tickets whose client left before their acquire arrived (remembered a while, so such an acquire is refused). */
const LEFT_REMEMBERED = 1024;

export class BackendGate {
  private readonly leases = new Map<string, Held>();
  private readonly waiting = new Map<string, ClientGone>();
  private readonly left = new Set<string>();
  private expiry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly backend: Backend,
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(ticketId: string, wire: WireTicket, leaseTtlMs: number): Promise<AcquireReply> {
    const gone = new ClientGone();
    if (this.left.delete(ticketId)) gone.abort();
    this.waiting.set(ticketId, gone);
    const ticket: Ticket = {
      stage: wire.stage,
      run: wire.run,
      priority: wire.priority,
      promptTokens: wire.promptTokens,
      deadlineMs: wire.deadlineMs,
      arrivedAt: performance.now() - wire.waitedMs,
      signal: gone,
      avoid: this.backend.replicas.find((r) => r.url === wire.avoid),
      affinity: wire.affinity,
      prefixHash: wire.prefixHash,
    };
    try {
      const lease = await this.backend.acquire(ticket);
      const leaseId = crypto.randomUUID();
      this.leases.set(leaseId, { lease, expiresAt: this.now() + leaseTtlMs });
      this.armExpiry();
      return { granted: true, leaseId, replica: lease.replica.url, queueMs: lease.queueMs, view: this.view() };
    } catch (err) {
      const error = asOrlaError(err);
      return {
        granted: false,
        error: { status: error.status, message: error.message, type: error.type, code: error.code, param: error.param, retryAfterS: error.retryAfterS },
        view: this.view(),
      };
    } finally {
      this.waiting.delete(ticketId);
    }
  }

  /** The client of a waiting ticket left: it leaves the queue (its acquire answers 499). */
  leave(ticketId: string): void {
    const gone = this.waiting.get(ticketId);
    if (gone) return gone.abort();
    this.left.add(ticketId);
    if (this.left.size > LEFT_REMEMBERED) this.left.delete(this.left.values().next().value!);
  }

  release(leaseId: string, outcome: Outcome, tokens: number | undefined): AdmissionView {
    const held = this.leases.get(leaseId);
    if (held) {
      this.leases.delete(leaseId);
      held.lease.release(outcome, tokens);
    }
    return this.view();
  }

  /** The holder is alive: its leases last `leaseTtlMs` more. */
  renew(leaseIds: readonly string[], leaseTtlMs: number): AdmissionView {
    const expiresAt = this.now() + leaseTtlMs;
    for (const id of leaseIds) {
      const held = this.leases.get(id);
      if (held) held.expiresAt = expiresAt;
    }
    return this.view();
  }

  /** Frees the slots of holders that stopped renewing (their isolate died): no verdict on the replica. */
  expireLeases(): number {
    const now = this.now();
    let expired = 0;
    for (const [id, held] of this.leases) {
      if (held.expiresAt > now) continue;
      this.leases.delete(id);
      held.lease.release('neutral');
      expired++;
    }
    return expired;
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

  /** Looks again when the first lease may have expired, while any is held. */
  private armExpiry(): void {
    if (this.expiry !== undefined || this.leases.size === 0) return;
    const next = Math.min(...[...this.leases.values()].map((h) => h.expiresAt));
    this.expiry = setTimeout(() => {
      this.expiry = undefined;
      this.expireLeases();
      this.armExpiry();
    }, Math.max(0, next - this.now()) + 1);
  }
}
