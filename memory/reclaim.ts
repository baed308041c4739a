import type { RunRecord } from '../state.js';

/**
 * Which runs to release first under memory pressure: the one whose next use is farthest away.
 * Finished runs first, then idle runs (longest idle first), then runs waiting on a tool, the one
 * expected to wait longest first. Runs with a request in flight are never candidates.
 */
export function reclaimOrder(runs: readonly RunRecord[], replica: string, now: number, toolWaitMs: number): RunRecord[] {
  const rank = (run: RunRecord) => {
    if (run.completed !== undefined) return 0;
    if (run.toolWaitSince === undefined || now - run.toolWaitSince > toolWaitMs) return 1; // a tool wait past its TTL is idleness
    return 2;
  };
  return runs
    .filter((run) => run.inFlight === 0 && (run.resident[replica] ?? 0) > 0)
    .sort((a, b) => rank(a) - rank(b) || a.lastActivity - b.lastActivity);
}

/** Tool durations seen so far → how long a run waiting on a tool is still expected back (Continuum). */
export class ToolWaitEstimate {
  private readonly samples: number[] = [];

  constructor(private readonly floorMs = 1_000, private readonly ceilingMs = 300_000) {}

  observe(ms: number): void {
    this.samples.push(ms);
    if (this.samples.length > 200) this.samples.shift();
  }

  /** The 90th percentile of recent tool durations, with headroom, within [floor, ceiling]. */
  ttlMs(): number {
    if (this.samples.length === 0) return this.floorMs * 10;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!;
    return Math.min(this.ceilingMs, Math.max(this.floorMs, p90 * 1.5));
  }
}
