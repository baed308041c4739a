import type { Backend } from './backend.js';
import type { SlotGate } from './capacity.js';
import type { TenantShare } from './tenants.js';

/** What a gateway tells the fleet of one backend at each heartbeat. */
export interface BackendLoad {
  name: string;
  /** Its max_concurrency (per replica). */
  max: number;
  /** What this gateway may have in flight per replica now. */
  limit: number;
  /** The most this gateway has in flight on one replica. */
  inUse: number;
  /** Per replica: in flight plus what waits here. */
  demand: number;
  /** This gateway's requests in flight, per replica URL. */
  inFlight: Record<string, number>;
}

/** What the fleet answers: how many gateways are live, this one's place among them, and its share of each backend. */
export interface FleetView {
  gateways: number;
  rank: number;
  backends: Record<string, { grant: number; target: number; held: number; elsewhere: Record<string, number> }>;
}

/** Where the fleet meets (Redis: routing/redis-fleet.ts). Either call may fail or time out. */
export interface FleetLink {
  beat(gateway: string, loads: BackendLoad[]): Promise<FleetView>;
  leave(gateway: string, backends: string[]): Promise<void>;
}

export interface FleetObserver {
  fleet?(gateways: number, shared: boolean): void;
  share?(backend: string, slots: number): void;
}

/** An extra heartbeat, while shares move between gateways, comes this soon after the last. */
const ASK_GAP_MS = 50;

/**
 * This gateway's share of every backend's limits, so that they hold for the fleet: its slots per
 * replica granted at each heartbeat (max-min fair by demand, routing/fleet-lua.ts), and its part of
 * the queue limit (queue_limit ÷ live gateways). While the fleet cannot be reached, each gateway
 * takes max_concurrency ÷ the last known number of gateways (at least one slot), and the heartbeat
 * goes on trying.
 */
export class FleetShares implements SlotGate, TenantShare {
  private backends: Backend[] = [];
  private view: FleetView | undefined;
  /** The fleet's size when last heard from (1 before then). */
  private gateways = 1;
  private rank = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private beating: Promise<void> | undefined;
  private lastBeat = -Infinity;
  private soon: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly link: FleetLink,
    readonly id: string,
    private readonly heartbeatMs: number,
    private readonly observer: FleetObserver = {},
  ) {}

  /** The backends whose limits it shares (they consult it, so they are made first). */
  attach(backends: Iterable<Backend>): void {
    this.backends = [...backends];
  }

  concurrency(backend: string, configured: number): number {
    if (this.view) return Math.min(configured, this.view.backends[backend]?.grant ?? 0);
    return Math.max(1, part(configured, this.gateways, this.rank));
  }

  queueLimit(_backend: string, configured: number): number {
    return part(configured, this.gateways, this.rank);
  }

  // A tenant's limits, split evenly over the live gateways (a share by demand, as for backends, would
  // need each tenant's demand at every heartbeat); at least one request each, so none refuses a tenant outright.
  tenantConcurrency(configured: number): number {
    return Math.max(1, part(configured, this.gateways, this.rank));
  }

  tenantQueueLimit(configured: number): number {
    return configured === 0 ? 0 : Math.max(1, part(configured, this.gateways, this.rank));
  }

  waiting(backend: string): void {
    const b = this.backends.find((x) => x.name === backend);
    if (!this.view || !b || this.concurrency(backend, b.configuredConcurrency) >= b.configuredConcurrency) return;
    if (performance.now() - this.lastBeat >= ASK_GAP_MS) void this.beat();
  }

  /** The first heartbeat (the gateway starts with its share known, or on the fallback), then one every `heartbeatMs`. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.heartbeatMs);
    this.timer.unref?.();
  }

  /** Leaves the fleet: what it held returns at once rather than at the end of its lease. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.soon);
    this.stopped = true;
    await this.beating;
    await this.link.leave(this.id, this.backends.map((b) => b.name)).catch(() => undefined);
  }

  /** The fleet cannot be reached: limits from the fallback share until a heartbeat gets through. */
  lost(): void {
    if (!this.view) return;
    this.view = undefined;
    for (const r of this.backends.flatMap((b) => b.replicas)) r.elsewhere = 0;
    this.observer.fleet?.(this.gateways, false);
    this.reconsider();
  }

  /** One heartbeat (never two at once). */
  beat(): Promise<void> {
    return (this.beating ??= this.exchange().finally(() => (this.beating = undefined)));
  }

  private async exchange(): Promise<void> {
    this.lastBeat = performance.now();
    const loads = this.backends.map((b) => load(b, this.concurrency(b.name, b.configuredConcurrency)));
    let view: FleetView;
    try {
      view = await this.link.beat(this.id, loads);
    } catch {
      return this.lost();
    }
    [this.view, this.gateways, this.rank] = [view, Math.max(1, view.gateways), view.rank];
    for (const b of this.backends) {
      const seen = view.backends[b.name];
      for (const r of b.replicas) r.elsewhere = seen?.elsewhere[r.url] ?? 0;
      this.observer.share?.(b.name, seen?.grant ?? 0);
    }
    this.observer.fleet?.(this.gateways, true);
    this.reconsider();
    // Shares are moving: this gateway's share shrank (the fleet counts its old limit until the next
    // heartbeat confirms the new one), or it is owed slots that others still hold. Beat again soon.
    const moving = loads.some(({ name, limit }) => {
      const share = view.backends[name];
      return share !== undefined && (limit > share.grant || share.grant < share.target);
    });
    if (moving && !this.stopped && !this.soon) {
      this.soon = setTimeout(() => {
        this.soon = undefined;
        void this.beat();
      }, ASK_GAP_MS);
      this.soon.unref?.();
    }
  }

  /** Limits may have grown: waiting requests may go. */
  private reconsider(): void {
    for (const b of this.backends) if (b.queued > 0) b.reconsider();
  }
}

/** One gateway's part of `total` among `n`, the remainder to the first ranks (the parts add up to `total`). */
export const part = (total: number, n: number, rank: number): number => Math.floor(total / n) + (rank < total % n ? 1 : 0);

function load(b: Backend, limit: number): BackendLoad {
  let inUse = 0;
  const inFlight: Record<string, number> = {};
  for (const r of b.replicas) {
    inUse = Math.max(inUse, r.inFlight);
    if (r.inFlight > 0) inFlight[r.url] = r.inFlight;
  }
  const max = b.configuredConcurrency;
  const demand = Math.min(max, inUse + Math.ceil(b.queued / Math.max(1, b.replicas.length)));
  return { name: b.name, max, limit, inUse, demand, inFlight };
}
