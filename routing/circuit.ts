export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * One replica's circuit: `threshold` consecutive failures open it; after `openMs` one probe may go
 * (half-open); the probe's success closes it, its failure opens it again.
 */
export class CircuitBreaker {
  state: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly onChange: (state: CircuitState) => void = () => {},
  ) {}

  /** Whether a request may be sent now (a half-open circuit lets exactly one through). */
  admits(now: number): boolean {
    if (this.state === 'open' && now - this.openedAt >= this.openMs) this.set('half-open');
    return this.state === 'closed' || (this.state === 'half-open' && !this.probing);
  }

  /** A request was sent. */
  sent(): void {
    if (this.state === 'half-open') this.probing = true;
  }

  record(success: boolean, now: number): void {
    this.probing = false;
    if (success) {
      this.failures = 0;
      if (this.state !== 'closed') this.set('closed');
      return;
    }
    this.failures++;
    if (this.state === 'half-open' || this.failures >= this.threshold) {
      this.openedAt = now;
      this.set('open');
    }
  }

  /** Until the next probe may go, when open. */
  msUntilProbe(now: number): number {
    return this.state === 'open' ? Math.max(0, this.openMs - (now - this.openedAt)) : 0;
  }

  private set(state: CircuitState): void {
    this.state = state;
    this.onChange(state);
  }
}
