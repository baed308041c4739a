export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * One replica's circuit: `threshold` consecutive failures open it; after `openMs` one probe may go
 * (half-open); the probe's success closes it, its failure opens it again, and a probe abandoned
 * (neutral outcome) frees the slot for the next one.
 */
export class CircuitBreaker {
  state: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  /** The probe in flight (its number), 0 when none. */
  private probe = 0;
  private probes = 0;

  constructor(
    private readonly threshold: number,
    private readonly openMs: number,
    private readonly onChange: (state: CircuitState) => void = () => {},
  ) {}

  /** Whether a request may be sent now (a half-open circuit lets exactly one through). */
  admits(now: number): boolean {
    if (this.state === 'open' && now - this.openedAt >= this.openMs) this.set('half-open');
    return this.state === 'closed' || (this.state === 'half-open' && this.probe === 0);
  }

  /** A request was sent: returns its probe number if it is the half-open probe, else 0. */
  sent(): number {
    if (this.state !== 'half-open') return 0;
    return (this.probe = ++this.probes);
  }

  /**
   * The probe ended with no verdict on the replica's health (the client left, the call was aborted):
   * the state stays and the next request may probe. Otherwise no request would ever be admitted
   * again. A stale number (an earlier probe's) is ignored.
   */
  probeAbandoned(probe: number): void {
    if (probe !== 0 && probe === this.probe) this.probe = 0;
  }

  record(success: boolean, now: number): void {
    this.probe = 0;
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
