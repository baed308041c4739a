import { clientClosed } from '../../errors.js';
import type { TenantConfig } from '../../config/schema.js';
import { TenantGate, type TenantPass } from '../../routing/tenants.js';
import { Leases, toWire, Waiting, type WireError } from './leases.js';

// One tenant's limits, as its Durable Object holds them for every isolate: the same TenantGate as on
// Node (routing/tenants.ts: max_concurrency, queue_limit, the wait before any backend's queue),
// whose passes are leases held by the Workers serving the requests (leases.ts). A pass that is not
// renewed expires, so an isolate that dies gives its tenant's places back.

/** A request at its tenant's gate, as a Worker sends it: times are relative (each isolate has its own clock). */
export interface WireEntry {
  /** X-Orla-Deadline-Ms, counted from the request's arrival. */
  deadlineMs: number | undefined;
  /** How long ago the request arrived at the Worker. */
  waitedMs: number;
}

export type EnterReply = { granted: true; passId: string } | { granted: false; error: WireError };

export class TenantPlaces {
  private readonly gate: TenantGate;
  private readonly passes: Leases<TenantPass>;
  private readonly waiting = new Waiting();

  constructor(
    private readonly tenant: string,
    limits: TenantConfig,
    now: () => number = Date.now,
  ) {
    this.gate = new TenantGate({ [tenant]: limits });
    this.passes = new Leases(finish, now);
  }

  async enter(ticketId: string, entry: WireEntry, leaseTtlMs: number): Promise<EnterReply> {
    const signal = this.waiting.enter(ticketId);
    try {
      if (signal.aborted) throw clientClosed();
      const pass = await this.gate.enter(this.tenant, { signal, deadlineMs: entry.deadlineMs, arrivedAt: performance.now() - entry.waitedMs });
      return { granted: true, passId: this.passes.add(pass, leaseTtlMs) };
    } catch (err) {
      return { granted: false, error: toWire(err) };
    } finally {
      this.waiting.exit(ticketId);
    }
  }

  /** The client of a waiting request left: it leaves the tenant's queue (its enter answers 499). */
  leave(ticketId: string): void {
    this.waiting.leave(ticketId);
  }

  /** The request got its backend slot (or failed to): it no longer counts against queue_limit. */
  dispatched(passId: string): void {
    this.passes.peek(passId)?.dispatched();
  }

  /** The request is over: its place goes to the tenant's next waiting request. */
  done(passId: string): void {
    const pass = this.passes.take(passId);
    if (pass) finish(pass);
  }

  /** The holder is alive: its passes last `leaseTtlMs` more. */
  renew(passIds: readonly string[], leaseTtlMs: number): void {
    this.passes.renew(passIds, leaseTtlMs);
  }

  /** Places held now (passes granted and not done). */
  get held(): number {
    return this.passes.size;
  }
}

/** Over, whatever it told before (each step runs once). */
function finish(pass: TenantPass): void {
  pass.dispatched();
  pass.done();
}
