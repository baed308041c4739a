import { clientClosed, deadlineExceeded, queueFull, unavailable, type OrlaError } from '../errors.js';
import type { RoutingObserver } from './observer.js';
import type { Ticket } from './ticket.js';

const DRAIN_SAMPLES = 32;

/**
 * What turns a request away before it waits for a slot (a client already gone, a deadline already
 * spent, every circuit open, a full queue), and how long a new request would wait, from the recent
 * drain rate (for Retry-After and rerouting).
 */
export class Admission {
  private readonly completions: number[] = [];

  constructor(
    private readonly backend: string,
    private readonly queueLimit: number,
    private readonly observer: RoutingObserver,
  ) {}

  /** Why `ticket` cannot be served at all: its client left, or its deadline was spent before it got here (a classifier's wait). */
  refusal(ticket: Ticket, now: number): OrlaError | undefined {
    if (ticket.signal?.aborted) return clientClosed();
    if (ticket.deadlineMs === undefined || now - (ticket.arrivedAt ?? now) < ticket.deadlineMs) return undefined;
    this.observer.rejected?.(this.backend, 'deadline');
    return deadlineExceeded(ticket.deadlineMs);
  }

  /** Why a request may not wait behind `waiting` others: every circuit is open (`probeInMs` until one may probe), or the queue is full (`limit`: this gateway's). */
  queueRefusal(waiting: number, probeInMs: number | undefined, limit = this.queueLimit): OrlaError | undefined {
    if (probeInMs !== undefined) {
      this.observer.rejected?.(this.backend, 'circuit_open');
      return unavailable(`backend ${this.backend}: every replica is failing (circuit open)`, probeInMs / 1000);
    }
    if (waiting >= limit) {
      this.observer.rejected?.(this.backend, 'queue_full');
      const wait = this.estimatedWaitMs(waiting);
      return queueFull(this.backend, Number.isFinite(wait) ? wait / 1000 : 1);
    }
    return undefined;
  }

  /** A request finished (its slot is free again). */
  completed(now: number): void {
    this.completions.push(now);
    if (this.completions.length > DRAIN_SAMPLES) this.completions.shift();
  }

  /** How long a new request would wait behind `waiting` others (Infinity until the drain rate is known). */
  estimatedWaitMs(waiting: number): number {
    if (waiting === 0) return 0;
    const n = this.completions.length;
    if (n < 2) return Infinity;
    const perMs = (n - 1) / Math.max(1, this.completions[n - 1]! - this.completions[0]!);
    return waiting / perMs;
  }
}
