import type { TenantConfig } from '../../config/schema.js';
import { clientClosed, unavailable } from '../../errors.js';
import { limitOf, NO_PASS, type TenantAdmission, type TenantPass } from '../../routing/tenants.js';
import type { Ticket } from '../../routing/ticket.js';
import { fromWire, renewing } from './leases.js';
import type { EnterReply, WireEntry } from './tenant-places.js';

/** A tenant's object as a Worker calls it (RPC to its Durable Object). */
export interface TenantLink {
  enter(tenant: string, ticketId: string, entry: WireEntry, leaseTtlMs: number): Promise<EnterReply>;
  leave(tenant: string, ticketId: string): Promise<void>;
  dispatched(tenant: string, passId: string): Promise<void>;
  done(tenant: string, passId: string): Promise<void>;
  renew(tenant: string, passIds: string[], leaseTtlMs: number): Promise<void>;
}

export interface RemoteTenantsOptions {
  /** Past it a pass whose holder stopped renewing gives its place back; renewed every third of it. */
  leaseTtlMs: number;
  /** A call to a tenant's object that failed (a pass it was not told of expires on its own). */
  onError?: (err: unknown) => void;
}

/**
 * Tenants' limits held in each tenant's Durable Object (tenant-places.ts), so that a tenant's
 * max_concurrency and queue_limit hold across every isolate: a request of a limited tenant waits
 * there for a pass, which this isolate renews until the request is over. A tenant without limits
 * costs no call.
 */
export class RemoteTenantGate implements TenantAdmission {
  private readonly failed: (err: unknown) => void;

  constructor(
    private readonly limits: Readonly<Record<string, TenantConfig>>,
    private readonly link: (tenant: string) => TenantLink,
    private readonly options: RemoteTenantsOptions,
  ) {
    this.failed = (err) => options.onError?.(err);
  }

  enter(tenant: string | undefined, ticket: Pick<Ticket, 'signal' | 'deadlineMs' | 'arrivedAt'>): TenantPass | Promise<TenantPass> {
    return limitOf(this.limits, tenant) ? this.remote(tenant!, ticket) : NO_PASS;
  }

  private async remote(tenant: string, ticket: Pick<Ticket, 'signal' | 'deadlineMs' | 'arrivedAt'>): Promise<TenantPass> {
    if (ticket.signal?.aborted) throw clientClosed();
    const ticketId = crypto.randomUUID();
    const leave = () => void this.link(tenant).leave(tenant, ticketId).catch(this.failed);
    ticket.signal?.addEventListener('abort', leave, { once: true });
    const entry: WireEntry = { deadlineMs: ticket.deadlineMs, waitedMs: ticket.arrivedAt === undefined ? 0 : Math.max(0, performance.now() - ticket.arrivedAt) };
    let reply: EnterReply;
    try {
      reply = await this.link(tenant).enter(tenant, ticketId, entry, this.options.leaseTtlMs);
    } catch (err) {
      if (ticket.signal?.aborted) throw clientClosed();
      this.failed(err);
      throw unavailable(`tenant ${tenant}: its limits (a Durable Object) did not answer`);
    } finally {
      ticket.signal?.removeEventListener('abort', leave);
    }
    if (!reply.granted) throw fromWire(reply.error);
    return this.pass(tenant, reply.passId);
  }

  private pass(tenant: string, passId: string): TenantPass {
    const ttl = this.options.leaseTtlMs;
    const stopRenewing = renewing(ttl, () => void this.link(tenant).renew(tenant, [passId], ttl).catch(this.failed));
    let dispatched = false;
    let done = false;
    return {
      dispatched: () => {
        if (dispatched || done) return;
        dispatched = true;
        void this.link(tenant).dispatched(tenant, passId).catch(this.failed);
      },
      done: () => {
        if (done) return;
        done = true;
        stopRenewing();
        void this.link(tenant).done(tenant, passId).catch(this.failed);
      },
    };
  }
}
