import { DurableObject } from 'cloudflare:workers';
import { edgeConfig } from './config.js';
import type { DurableObjectState } from './cloudflare.js';
import type { WorkersEnv } from './env.js';
import { TenantPlaces, type EnterReply, type WireEntry } from './tenant-places.js';

/**
 * One tenant's limits (`TENANTS`, by tenant name), for every isolate of the gateway: its
 * max_concurrency and queue_limit (tenant-places.ts). Every call names the tenant (an object does
 * not know its own name).
 */
export class TenantObject extends DurableObject<WorkersEnv> {
  private places: TenantPlaces | undefined;

  constructor(ctx: DurableObjectState, env: WorkersEnv) {
    super(ctx, env);
  }

  enter(tenant: string, ticketId: string, entry: WireEntry, leaseTtlMs: number): Promise<EnterReply> {
    return this.of(tenant).enter(ticketId, entry, leaseTtlMs);
  }
  leave(tenant: string, ticketId: string): void {
    this.of(tenant).leave(ticketId);
  }
  dispatched(tenant: string, passId: string): void {
    this.of(tenant).dispatched(passId);
  }
  done(tenant: string, passId: string): void {
    this.of(tenant).done(passId);
  }
  renew(tenant: string, passIds: string[], leaseTtlMs: number): void {
    this.of(tenant).renew(passIds, leaseTtlMs);
  }

  private of(tenant: string): TenantPlaces {
    if (this.places) return this.places;
    const limits = edgeConfig(this.env).tenants[tenant];
    if (!limits) throw new Error(`no tenant named "${tenant}" in ORLA_CONFIG`);
    return (this.places = new TenantPlaces(tenant, limits));
  }
}
