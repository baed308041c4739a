import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { defaultAnswer, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// The pressure monitor runs on its own schedule (memory.pressure.interval_ms), not on client
// requests: it scrapes the engine's KV gauge and, above the high watermark, releases idle runs.

let engine: RecordingEngine;
let gateway: RunningGateway;
beforeAll(async () => {
  engine = await startRecordingEngine();
  engine.respondWith((r, res) => {
    if (r.method === 'GET' && r.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.99\n');
    } else if (r.url === '/reset_prefix_cache') res.writeHead(200, { 'content-length': 0 }).end();
    else defaultAnswer(r, res);
  });
  gateway = await startTestGateway({
    backends: { main: { engine: 'vllm', urls: [engine.url] } },
    stages: { default: { backend: 'main', model: 'm' } },
    memory: { pressure: { interval_ms: 50, high: 0.9, low: 0.75 } },
  });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

const scrapes = () => engine.received.filter((r) => r.method === 'GET' && r.url === '/metrics').length;

it('scrapes the engine\'s KV usage on its interval, with no client request, and releases an idle run under pressure', async () => {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': 'idle-run' },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-orla-cache')).toMatch(/^preserve;/); // the policy keeps it: only pressure releases it
  await res.text();

  const before = scrapes();
  await until(() => scrapes() >= before + 3, 'three more scrapes of /metrics, with no client request');
  await until(async () => (await (await fetch(`${gateway.url}/v1/workflows/idle-run`)).json()).cache_actions.length > 0, 'a release of the idle run');
  const run = await (await fetch(`${gateway.url}/v1/workflows/idle-run`)).json();
  expect(run.cache_actions[0]).toMatchObject({ action: 'reset_prefix_cache', result: 'ok', reason: 'pressure 99%' });
  expect(engine.received.filter((r) => r.url === '/reset_prefix_cache')).toHaveLength(1);
  expect(engine.received.filter((r) => r.url === '/v1/chat/completions')).toHaveLength(1);
});
