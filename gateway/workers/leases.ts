import { ClientGone } from '../../cancel.js';
import { asOrlaError, OrlaError } from '../../errors.js';

// What a Durable Object that admits requests for every isolate keeps besides its queue (a backend's
// slots, a tenant's places): the places it granted, as leases that expire unless their holder renews
// them (so an isolate that dies returns what it held), and the tickets waiting, which leave when
// their client does.

/** An OrlaError across RPC. */
export interface WireError {
  status: number;
  message: string;
  type: OrlaError['type'];
  code: string | null;
  param: string | null;
  retryAfterS: number | undefined;
}

export const toWire = (err: unknown): WireError => {
  const error = asOrlaError(err);
  return { status: error.status, message: error.message, type: error.type, code: error.code, param: error.param, retryAfterS: error.retryAfterS };
};

export const fromWire = (error: WireError): OrlaError =>
  new OrlaError(error.status, error.message, { type: error.type, code: error.code, param: error.param, ...(error.retryAfterS === undefined ? {} : { retryAfterS: error.retryAfterS }) });

interface Held<T> {
  value: T;
  expiresAt: number;
}

/** Granted places by lease id; one not renewed within its TTL is handed to `onExpired`. */
export class Leases<T> {
  private readonly held = new Map<string, Held<T>>();
  private expiry: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly onExpired: (value: T) => void,
    private readonly now: () => number = Date.now,
  ) {}

  add(value: T, ttlMs: number): string {
    const id = crypto.randomUUID();
    this.held.set(id, { value, expiresAt: this.now() + ttlMs });
    this.arm();
    return id;
  }

  /** The lease's value, once: it is no longer held (undefined when it expired or was taken before). */
  take(id: string): T | undefined {
    const held = this.held.get(id);
    this.held.delete(id);
    return held?.value;
  }

  peek(id: string): T | undefined {
    return this.held.get(id)?.value;
  }

  /** The holder is alive: its leases last `ttlMs` more. */
  renew(ids: readonly string[], ttlMs: number): void {
    const expiresAt = this.now() + ttlMs;
    for (const id of ids) {
      const held = this.held.get(id);
      if (held) held.expiresAt = expiresAt;
    }
  }

  /** Hands over the leases whose holders stopped renewing. */
  expire(): number {
    const now = this.now();
    let expired = 0;
    for (const [id, held] of this.held) {
      if (held.expiresAt > now) continue;
      this.held.delete(id);
      this.onExpired(held.value);
      expired++;
    }
    return expired;
  }

  get size(): number {
    return this.held.size;
  }

  /** Looks again when the first lease may have expired, while any is held. */
  private arm(): void {
    if (this.expiry !== undefined || this.held.size === 0) return;
    const next = Math.min(...[...this.held.values()].map((h) => h.expiresAt));
    this.expiry = setTimeout(() => {
      this.expiry = undefined;
      this.expire();
      this.arm();
    }, Math.max(0, next - this.now()) + 1);
  }
}

/** Tickets whose client left before their request arrived (remembered a while, so such a request is refused). */
const LEFT_REMEMBERED = 1024;

/** The tickets waiting in an object, each with the signal its client's leaving fires. */
export class Waiting {
  private readonly waiting = new Map<string, ClientGone>();
  private readonly left = new Set<string>();

  /** The ticket's signal while it waits: already fired if its client left before it came. */
  enter(ticketId: string): ClientGone {
    const gone = new ClientGone();
    if (this.left.delete(ticketId)) gone.abort();
    this.waiting.set(ticketId, gone);
    return gone;
  }

  exit(ticketId: string): void {
    this.waiting.delete(ticketId);
  }

  /** The ticket's client left: it leaves the queue, now or as it arrives. */
  leave(ticketId: string): void {
    const gone = this.waiting.get(ticketId);
    if (gone) return gone.abort();
    this.left.add(ticketId);
    if (this.left.size > LEFT_REMEMBERED) this.left.delete(this.left.values().next().value!);
  }
}

/** Renews a lease every third of its TTL until stopped. */
export function renewing(ttlMs: number, renew: () => void): () => void {
  const timer = setInterval(renew, ttlMs / 3);
  return () => clearInterval(timer);
}
