import { Histogram, Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { BoundHistogram } from '../../gateway/histogram.js';

// BoundHistogram is read by prom-client's registry: its exposition must be prom-client's own.

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVED = [0, 0.0005, 0.001, 0.004, 0.01, 0.05, 0.5, 1, 3, 120, Number.NaN];

it('writes the same exposition as a prom-client Histogram given the same observations', async () => {
  const theirs = new Registry();
  const reference = new Histogram({ name: 'h_seconds', help: 'A histogram.', labelNames: ['route', 'stage'], buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const bound = new BoundHistogram('h_seconds', 'A histogram.', BUCKETS, ours);
  for (const [i, value] of OBSERVED.entries()) {
    const labels = { route: '/v1/chat/completions', stage: i % 3 === 0 ? 'reply' : 'classify' };
    bound.labels(labels).observe(value); // a new lookup each time: the same label set is one series
    if (Number.isFinite(value)) reference.observe(labels, value); // prom-client throws on NaN; ours drops it
  }
  const text = await ours.metrics();
  expect(text).toBe(await theirs.metrics());
  expect(text).toContain('h_seconds_bucket{le="0.01",route="/v1/chat/completions",stage="classify"} 3');
  expect(text).toContain('h_seconds_count{route="/v1/chat/completions",stage="reply"} 4');

  ours.resetMetrics();
  expect(await ours.metrics()).toContain('h_seconds_count{route="/v1/chat/completions",stage="reply"} 0');
});

it('reads as JSON with each value\'s labels in full, as prom-client\'s does', async () => {
  const theirs = new Registry();
  const reference = new Histogram({ name: 'h_seconds', help: 'A histogram.', labelNames: ['backend'], buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const bound = new BoundHistogram('h_seconds', 'A histogram.', BUCKETS, ours);
  for (const value of OBSERVED.filter(Number.isFinite)) {
    reference.observe({ backend: 'sim' }, value);
    bound.labels({ backend: 'sim' }).observe(value);
  }
  const strip = (metrics: { values: object[] }[]) => metrics.map((m) => ({ ...m, values: m.values.map(({ exemplar: _e, ...v }: { exemplar?: unknown }) => v) }));
  expect(strip(await ours.getMetricsAsJSON())).toEqual(strip(await theirs.getMetricsAsJSON()));
});
