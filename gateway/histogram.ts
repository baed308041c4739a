import type { Metric, MetricValueWithName, Registry } from 'prom-client';

/**
 * A Prometheus histogram whose label sets are bound once, then observed with no hashing:
 * prom-client's own Histogram validates and hashes the labels on every observation, children
 * included (0.8 µs each, and a request makes four). The registry reads it like any other metric, so
 * prom-client still writes the exposition.
 */
export class BoundHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(readonly name: string, readonly help: string, private readonly buckets: readonly number[], registry: Registry) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of a label set: look it up once and keep it. */
  labels(labels: Record<string, string>): HistogramSeries {
    const key = JSON.stringify(labels);
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = new HistogramSeries(labels, this.buckets)));
    return series;
  }

  /** What the registry writes out: as prom-client's Histogram has it, `le` first, the series' labels shared. */
  getForPromString() {
    const bucket = `${this.name}_bucket`;
    const values: (MetricValueWithName<string> & { sharedLabels: Record<string, string> })[] = [];
    for (const s of this.series.values()) {
      const shared = { sharedLabels: s.labels };
      let below = 0;
      this.buckets.forEach((le, i) => {
        below += s.counts[i]!;
        values.push({ metricName: bucket, labels: { le }, value: below, ...shared });
      });
      values.push(
        { metricName: bucket, labels: { le: '+Inf' }, value: s.count, ...shared },
        { metricName: `${this.name}_sum`, labels: {}, value: s.sum, ...shared },
        { metricName: `${this.name}_count`, labels: {}, value: s.count, ...shared },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** The registry's JSON: each value's labels in full. */
  async get() {
    const metric = await this.getForPromString();
    return { ...metric, values: metric.values.map(({ sharedLabels, ...v }) => ({ ...v, labels: { ...v.labels, ...sharedLabels } })) };
  }

  reset(): void {
    for (const s of this.series.values()) s.reset();
  }
}

export class HistogramSeries {
  /** Per bucket, the observations above the bucket before it and at most its bound; the last: above all. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly labels: Record<string, string>, private readonly buckets: readonly number[]) {
    this.counts = new Float64Array(buckets.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
