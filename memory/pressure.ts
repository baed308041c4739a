import type { Config } from '../config/schema.js';
import type { RunStore } from '../state.js';
import { reclaimOrder, type ToolWaitEstimate } from './reclaim.js';
import type { Releaser } from './releaser.js';
import type { MemoryBackend } from './types.js';

/**
 * Scrapes each replica's KV usage on an interval and, above the high watermark, releases runs until
 * the estimate is below the low one. Engines' gauges count only blocks in use, so Orla's ledger of
 * cached-but-idle tokens joins in where the backend's `kv_capacity_tokens` is known.
 */
export class PressureMonitor {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;

  constructor(
    private readonly config: Config,
    private readonly backends: ReadonlyMap<string, MemoryBackend>,
    private readonly store: RunStore,
    private readonly releaser: Releaser,
    private readonly toolWait: ToolWaitEstimate,
  ) {}

  start(): void {
    const every = this.config.memory.pressure.interval_ms;
    if (every === 0) return;
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at every replica; overlapping ticks are skipped. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await Promise.all([...this.backends.values()].flatMap((b) => b.replicas.map((r) => this.check(b, r))));
    } finally {
      this.running = false;
    }
  }

  private async check(backend: MemoryBackend, replica: string): Promise<void> {
    const capacity = backend.config.kv_capacity_tokens;
    const runs = await this.store.runsOn(replica).catch(() => []);
    const ledger = capacity ? runs.reduce((sum, run) => sum + (run.resident[replica] ?? 0), 0) / capacity : undefined;
    const engine = await this.releaser.adapter(backend.name)?.usage?.(replica).catch(() => undefined);
    const pressure = Math.max(engine ?? 0, ledger ?? 0);
    const { high, low } = this.config.memory.pressure;
    if (pressure <= high) return;
    // With a known capacity, free enough for the low watermark; without, one run per look.
    let toFree = capacity ? (pressure - low) * capacity : 1;
    for (const run of reclaimOrder(runs, replica, Date.now(), this.toolWait.ttlMs())) {
      if (toFree <= 0) break;
      toFree -= capacity ? run.resident[replica]! : 1;
      await this.releaser.release(run, backend.name, replica, `pressure ${(pressure * 100).toFixed(0)}%`, { underPressure: true });
    }
  }
}
