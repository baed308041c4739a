import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway, twoBackendConfig } from '../helpers/gateway.js';
import { defaultAnswer, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// GET /metrics: the per-request series, by route, stage, backend and status, exact after each scrape.

let light: RecordingEngine;
let heavy: RecordingEngine;
let gateway: RunningGateway;
beforeAll(async () => {
  [light, heavy] = await Promise.all([startRecordingEngine(), startRecordingEngine()]);
  gateway = await startTestGateway(twoBackendConfig(light.url, heavy.url, { light: { price: { input_per_mtok: 1, output_per_mtok: 2 } } }));
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([light.close(), heavy.close()]);
});

const chat = (stage: string, url = gateway.url) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-stage': stage },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  }).then((r) => r.arrayBuffer());

async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return new Map(text.split('\n').filter((l) => l.startsWith('orla_')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
}

it('counts requests, tokens, cost, in-flight and latency per label set, and never twice', async () => {
  await Promise.all([chat('classify'), chat('classify'), chat('reply')]);
  const first = await scrape();
  const lightChat = 'route="/v1/chat/completions",stage="classify",backend="light"';
  expect(first.get(`orla_requests_total{${lightChat},status="200"}`)).toBe(2);
  expect(first.get('orla_requests_total{route="/v1/chat/completions",stage="reply",backend="heavy",status="200"}')).toBe(1);
  expect(first.get('orla_tokens_total{stage="classify",backend="light",kind="prompt"}')).toBe(20);
  expect(first.get('orla_tokens_total{stage="classify",backend="light",kind="cached"}')).toBe(8);
  expect(first.get('orla_tokens_total{stage="classify",backend="light",kind="completion"}')).toBe(4);
  expect(first.get('orla_cost_usd_total{backend="light",stage="classify"}')).toBeCloseTo(2 * (10 * 1 + 2 * 2) / 1e6, 12);
  expect(first.get('orla_requests_in_flight{backend="light",stage="classify"}')).toBe(0);
  expect(first.get(`orla_request_duration_seconds_count{${lightChat}}`)).toBe(2);
  expect(first.get(`orla_request_duration_seconds_bucket{le="+Inf",${lightChat}}`)).toBe(2);
  expect(first.get(`orla_time_to_first_byte_seconds_count{${lightChat}}`)).toBe(2);
  expect(first.get('orla_overhead_seconds_count{route="/v1/chat/completions"}')).toBe(3);
  expect(first.get('orla_queue_wait_seconds_count{backend="light"}')).toBe(2);
  // Cumulative buckets, each ending at the count: every observation falls in some bucket.
  const waitBuckets = [...first].filter(([series]) => series.startsWith('orla_queue_wait_seconds_bucket{') && series.endsWith('backend="light"}')).map(([, n]) => n);
  expect(waitBuckets.length).toBeGreaterThan(1);
  expect(waitBuckets).toEqual([...waitBuckets].sort((a, b) => a - b));
  expect(waitBuckets.at(-1)).toBe(2); // le="+Inf"

  await chat('classify');
  const second = await scrape();
  expect(second.get(`orla_requests_total{${lightChat},status="200"}`)).toBe(3);
  expect(second.get('orla_tokens_total{stage="classify",backend="light",kind="prompt"}')).toBe(30);
  expect(second.get(`orla_request_duration_seconds_count{${lightChat}}`)).toBe(3);
  expect((await scrape()).get(`orla_requests_total{${lightChat},status="200"}`)).toBe(3);
});

it('labels queue depth and in-flight with the configured stage, so clients cannot mint series with stage names', async () => {
  const engine = await startRecordingEngine();
  const held: (() => void)[] = [];
  engine.respondWith((received, res) => held.push(() => defaultAnswer(received, res)));
  const queued = await startTestGateway(twoBackendConfig(light.url, engine.url, { heavy: { max_concurrency: 1 } }));
  try {
    const calls = ['made-up-1', 'made-up-2', 'made-up-3'].map((stage) => chat(stage, queued.url));
    await until(() => held.length === 1, 'one request at the engine'); // one in flight, two queued
    await until(async () => (await (await fetch(`${queued.url}/v1/backends`)).json()).data.find((b: { name: string }) => b.name === 'heavy').waiting === 2, 'two requests queued');
    const text = await (await fetch(`${queued.url}/metrics`)).text();
    expect(text).toContain('orla_queue_depth{backend="heavy",stage="default"} 2');
    expect(text).toContain('orla_requests_in_flight{backend="heavy",stage="default"} 1');
    expect(text).not.toContain('made-up');
    for (let served = 1; served <= 3; served++) {
      await until(() => held.length === served, `request ${served} at the engine`);
      held[served - 1]!();
    }
    await Promise.all(calls);
  } finally {
    await queued.close();
    await engine.close();
  }
});
