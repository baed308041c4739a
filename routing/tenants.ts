import { clientClosed, deadlineExceeded, tenantQueueFull } from '../errors.js';
import type { TenantConfig } from '../config/schema.js';
import type { Ticket } from './ticket.js';

interface Waiter {
  admit(): void;
}

interface TenantState {
  /** Its max_concurrency here (this gateway's share of it in a fleet), read at each admission. */
  max: () => number;
  /** Admitted past this gate and not finished (waiting in a backend's queue, or in flight). */
  admitted: number;
  /** Waiting here, or admitted and still waiting for a backend's slot. */
  waiting: number;
  queue: Waiter[];
}

/** What a request admitted by its tenant's limit reports as it goes. */
export interface TenantPass {
  /** It got its backend slot (or failed to): it no longer waits. */
  dispatched(): void;
  /** It is over: its place goes to the tenant's next waiting request. */
  done(): void;
}

/** The pass of a request whose tenant has no limit. */
export const NO_PASS: TenantPass = { dispatched() {}, done() {} };

/** A tenant's limits when it sets max_concurrency or queue_limit; undefined when its requests pass freely. */
export const limitOf = (limits: Readonly<Record<string, TenantConfig>>, tenant: string | undefined) => {
  const limit = tenant === undefined ? undefined : limits[tenant];
  return limit && (limit.max_concurrency !== undefined || limit.queue_limit !== undefined) ? limit : undefined;
};

/** What the request path asks of tenants' limits: this process's TenantGate, or the Workers entry's, shared by every isolate. */
export interface TenantAdmission {
  /** Waits for the tenant's turn; throws 429 (queue full), 408 (deadline) or 499 (client left). */
  enter(tenant: string | undefined, ticket: Pick<Ticket, 'signal' | 'deadlineMs' | 'arrivedAt'>): TenantPass | Promise<TenantPass>;
  /** Each limited tenant's requests waiting and in flight, where this process knows them (for /metrics). */
  load?(): Iterable<{ tenant: string; waiting: number; inFlight: number }>;
}

/** This gateway's part of a tenant's limits: all of them alone, a share in a fleet (routing/fleet-shares.ts). */
export interface TenantShare {
  tenantConcurrency(configured: number): number;
  tenantQueueLimit(configured: number): number;
}

const WHOLE: TenantShare = { tenantConcurrency: (n) => n, tenantQueueLimit: (n) => n };

/**
 * Each tenant's `max_concurrency` across the gateway and its `queue_limit`. A request over its
 * tenant's limit waits here, before any backend's queue, so it holds no backend slot and blocks no
 * other tenant's request; past `queue_limit` waiting requests, it is refused (429).
 */
export class TenantGate implements TenantAdmission {
  private readonly tenants = new Map<string, TenantState>();

  constructor(
    private readonly limits: Readonly<Record<string, TenantConfig>>,
    private readonly share: TenantShare = WHOLE,
  ) {}

  /** Waits for the tenant's turn; throws 429 (queue full), 408 (deadline) or 499 (client left). */
  enter(tenant: string | undefined, ticket: Pick<Ticket, 'signal' | 'deadlineMs' | 'arrivedAt'>): TenantPass | Promise<TenantPass> {
    const limit = limitOf(this.limits, tenant);
    if (!limit) return NO_PASS;
    let state = this.tenants.get(tenant!);
    if (!state) {
      const configured = limit.max_concurrency;
      const max = configured === undefined ? () => Infinity : () => this.share.tenantConcurrency(configured);
      this.tenants.set(tenant!, (state = { max, admitted: 0, waiting: 0, queue: [] }));
    }
    if (limit.queue_limit !== undefined && state.waiting >= this.share.tenantQueueLimit(limit.queue_limit)) throw tenantQueueFull(tenant!);
    state.waiting++;
    const pass = this.pass(state);
    admitWaiting(state); // those before it first, if its limit has room now
    if (state.queue.length === 0 && state.admitted < state.max()) {
      state.admitted++;
      return pass;
    }
    return this.wait(state, pass, ticket);
  }

  /** Each limited tenant's requests: waiting (for its limit or a backend's slot) and in flight. */
  *load(): Iterable<{ tenant: string; waiting: number; inFlight: number }> {
    for (const [tenant, s] of this.tenants) yield { tenant, waiting: s.waiting, inFlight: s.admitted - s.waiting + s.queue.length };
  }

  private wait(state: TenantState, pass: TenantPass, ticket: Pick<Ticket, 'signal' | 'deadlineMs' | 'arrivedAt'>): Promise<TenantPass> {
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const leave = (err: unknown) => {
        const at = state.queue.indexOf(waiter);
        if (at < 0) return;
        state.queue.splice(at, 1);
        cleanup();
        state.waiting--;
        reject(err);
      };
      const onAbort = () => leave(clientClosed());
      const cleanup = () => {
        clearTimeout(timer);
        ticket.signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        admit: () => {
          cleanup();
          state.admitted++;
          resolve(pass);
        },
      };
      state.queue.push(waiter);
      ticket.signal?.addEventListener('abort', onAbort, { once: true });
      if (ticket.deadlineMs !== undefined) {
        const left = ticket.deadlineMs - (performance.now() - (ticket.arrivedAt ?? performance.now()));
        const deadlineMs = ticket.deadlineMs;
        timer = setTimeout(() => leave(deadlineExceeded(deadlineMs)), Math.max(0, left));
      }
    });
  }

  private pass(state: TenantState): TenantPass {
    let dispatched = false;
    let done = false;
    return {
      dispatched: () => {
        if (dispatched) return;
        dispatched = true;
        state.waiting--;
      },
      done: () => {
        if (done) return;
        done = true;
        state.admitted--;
        admitWaiting(state);
      },
    };
  }
}

/** Lets in as many waiting requests as the tenant's limit has room for now (in a fleet, its share moves with the fleet's size). */
function admitWaiting(state: TenantState): void {
  while (state.queue.length > 0 && state.admitted < state.max()) state.queue.shift()!.admit();
}
