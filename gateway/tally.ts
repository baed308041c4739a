import type { Counter, Gauge, LabelValues } from 'prom-client';

/**
 * One label set's increments of a counter or gauge, added up here and handed to prom-client when
 * the registry is read: prom-client hashes the labels on every call, children included.
 */
export class Tally {
  pending = 0;
  constructor(
    private readonly metric: Counter | Gauge,
    private readonly labels: LabelValues<string>,
  ) {}

  add(value = 1): void {
    this.pending += value;
  }

  flush(): void {
    if (this.pending === 0) return;
    this.metric.inc(this.labels, this.pending);
    this.pending = 0;
  }
}
