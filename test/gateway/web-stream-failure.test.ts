import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { createApp } from '../../gateway/app.js';
import { GatewayMetrics } from '../../gateway/metrics.js';
import { webPlatform } from '../../gateway/web/platform.js';
import { createCore, type Core } from '../../gateway/core.js';
import { ExplicitMapper } from '../../routing/mappers/explicit.js';
import { closeBackends, createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import { FetchUpstream } from '../../upstream/clients/fetch.js';
import type { Backend } from '../../routing/backend.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { sseData } from '../simulator/helpers.js';
import { within } from '../helpers/wait.js';

// The Web-standard path (Workers, Deno, Bun): the app served through Hono's fetch, upstream through
// fetch, against a real simulated engine over real sockets (test/gateway/web-runtime.test.ts mocks
// the engine with msw instead). An engine that dies mid-stream: the client gets what was sent, then
// an error event, never a silent end nor a fake [DONE].

let sim: RunningSimulator;
let backends: Map<string, Backend>;
let core: Core;
let metrics: GatewayMetrics;
let app: { fetch(request: Request): Response | Promise<Response> };

beforeAll(async () => {
  sim = await startSimulator({ profile: 'instant', faults: true, models: ['m'] });
  const config = validateConfig(
    {
      backends: { main: { engine: 'vllm', urls: [sim.url], retries: { attempts: 0 } } },
      stages: { default: { backend: 'main', model: 'm' } },
      memory: { pressure: { interval_ms: 0 } },
    },
    { env: {} },
  );
  const policies = await loadPolicies(config, '.');
  metrics = new GatewayMetrics();
  backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new FetchUpstream(url, t), policies, metrics);
  const log = pino({ level: 'silent' });
  core = createCore(config, backends, { observer: metrics, log });
  app = createApp({ config, backends, mapper: new ExplicitMapper(config.stages), core, platform: webPlatform, metrics, log }).app;
});
afterAll(async () => {
  await core?.stop();
  await closeBackends(backends);
  await sim?.close();
});

const chat = (fault?: string) =>
  app.fetch(
    new Request('http://orla.test/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(fault ? { 'x-sim-fault': fault } : {}) },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Write a long story.' }], max_tokens: 64, stream: true }),
    }),
  );

it('relays a whole stream from the simulated engine, ending in [DONE]', async () => {
  const res = await chat();
  expect(res.status).toBe(200);
  const events = sseData(await within(res.text(), 'the stream to end'));
  expect(events.at(-1)).toBe('[DONE]');
  expect(events.some((e) => e !== '[DONE]' && e.choices?.[0]?.delta?.content)).toBe(true);
});

it('a stream cut mid-way ends with an error event after the chunks already sent, and no [DONE]', async () => {
  const res = await chat('cut-after=2');
  expect(res.status).toBe(200);
  const events = sseData(await within(res.text(), 'the cut stream to end'));
  const content = events.slice(0, -1).filter((e) => e.choices?.[0]?.delta?.content);
  expect(content.length).toBeGreaterThanOrEqual(1); // what the engine sent before dying reached the client
  expect(events.at(-1)).toMatchObject({ error: { type: 'upstream_error' } });
  expect(events).not.toContain('[DONE]');
  // Counted as the engine's failure, not a success.
  expect(await metrics.registry.metrics()).toMatch(/orla_requests_total\{[^}]*backend="main",status="502"\} 1/);
});
