// Runs engine steps on a virtual clock. Each step ends at a fixed point of simulated time; its wall
// deadline is start + simulatedTime / speed, so timer lateness never accumulates (drift
// compensation): when behind, several steps run back to back, in bursts separated by setImmediate
// so I/O is not starved. Zero-length steps (the instant profile) run as fast as the loop allows.
// Nothing is scheduled while there is no step to run.
import { performance } from 'node:perf_hooks';

export interface TimedStep {
  endSeconds: number;
}

const MAX_STEPS_PER_BURST = 64;
const MAX_BURST_MS = 4;

export class StepLoop<Step extends TimedStep> {
  private virtualSeconds = 0;
  private wallEpochMs = 0;
  private pending: Step | null = null;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private idle = true;
  private paused = false;
  private closed = false;
  private readonly runBound = (): void => this.run();

  constructor(
    readonly speed: number,
    /** The next step starting at `startSeconds`, or null when there is nothing to do. */
    private readonly plan: (startSeconds: number) => Step | null,
    private readonly complete: (step: Step) => void,
  ) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, got ${speed}`);
  }

  /** Simulated time at the end of the last completed step (it stands still while idle). */
  get simulatedSeconds(): number {
    return this.virtualSeconds;
  }

  /** A step is planned or a timer is armed. */
  get active(): boolean {
    return this.pending !== null || this.timer !== null || this.immediate !== null;
  }

  /** Simulated "now", for stamping arrivals. */
  nowSeconds(): number {
    if (this.idle) return this.virtualSeconds;
    return Math.max(this.virtualSeconds, ((performance.now() - this.wallEpochMs) / 1000) * this.speed);
  }

  /** There may be work: plan a step soon. */
  wake(): void {
    if (this.paused || this.closed || this.timer || this.immediate) return;
    // setImmediate, not a synchronous step: requests arriving in the same I/O turn share a step.
    this.immediate = setImmediate(this.runBound);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.rebase();
    this.wake();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    this.pending = null;
  }

  private rebase(): void {
    // Simulated time does not run while nothing runs: map wall "now" to the end of the last step.
    this.wallEpochMs = performance.now() - (this.virtualSeconds * 1000) / this.speed;
  }

  private run(): void {
    this.timer = null;
    this.immediate = null;
    if (this.paused || this.closed) return;
    const burstStart = performance.now();
    for (let steps = 1; ; steps++) {
      if (!this.pending) {
        if (this.idle) {
          this.rebase();
          this.idle = false;
        }
        this.pending = this.plan(this.virtualSeconds);
        if (!this.pending) {
          this.idle = true;
          return;
        }
      }
      const now = performance.now();
      const deadline = this.wallEpochMs + (this.pending.endSeconds * 1000) / this.speed;
      if (deadline > now) {
        this.timer = setTimeout(this.runBound, deadline - now);
        return;
      }
      const step = this.pending;
      this.pending = null;
      this.virtualSeconds = step.endSeconds;
      this.complete(step);
      if (this.closed || this.paused) return;
      if (steps >= MAX_STEPS_PER_BURST || performance.now() - burstStart >= MAX_BURST_MS) {
        this.immediate = setImmediate(this.runBound);
        return;
      }
    }
  }
}
