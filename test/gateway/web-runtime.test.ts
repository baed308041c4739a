import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { createApp } from '../../gateway/app.js';
import { createCore } from '../../gateway/core.js';
import { GatewayMetrics } from '../../gateway/metrics.js';
import { webPlatform } from '../../gateway/web/platform.js';
import { ExplicitMapper } from '../../routing/mappers/explicit.js';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import { FetchUpstream } from '../../upstream/clients/fetch.js';
import { until } from '../helpers/wait.js';

// The runtime-agnostic core on its Web-standard path (Workers, Deno, Bun): Request in, Response out,
// fetch upstream. The engine is mocked with msw.

const received: { body: Record<string, unknown>; headers: Headers }[] = [];
const encoder = new TextEncoder();
const sse = (events: unknown[]) =>
  new ReadableStream({
    start(controller) {
      for (const e of events) controller.enqueue(encoder.encode(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`));
      controller.close();
    },
  });

const engine = setupServer(
  http.post('http://engine.test/v1/chat/completions', async ({ request }) => {
    const body = (await request.json()) as Record<string, unknown>;
    received.push({ body, headers: request.headers });
    if (body.user === 'hang') {
      // One event, then an engine that keeps the stream open.
      const open = new ReadableStream({ start: (c) => c.enqueue(encoder.encode(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'Hi' } }] })}\n\n`)) });
      return new HttpResponse(open, { headers: { 'content-type': 'text/event-stream' } });
    }
    if (body.stream) {
      return new HttpResponse(
        sse([
          { choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] },
          { choices: [{ index: 0, delta: { content: 'Hi' } }] },
          { choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } },
          '[DONE]',
        ]),
        { headers: { 'content-type': 'text/event-stream' } },
      );
    }
    return HttpResponse.json({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } });
  }),
);

let app: { fetch(request: Request): Response | Promise<Response> };
let metrics: GatewayMetrics;

beforeAll(async () => {
  engine.listen({ onUnhandledRequest: 'error' });
  const config = validateConfig({
    backends: { main: { engine: 'openai', urls: ['http://engine.test/v1'], api_key: 'sk-upstream' } },
    stages: { default: { backend: 'main', model: 'gpt-x' } },
  });
  const policies = await loadPolicies(config, '.');
  metrics = new GatewayMetrics();
  const backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new FetchUpstream(url, t), policies, metrics);
  const log = pino({ level: 'silent' });
  const core = createCore(config, backends, { log });
  app = createApp({ config, backends, mapper: new ExplicitMapper(config.stages), core, platform: webPlatform, metrics, log }).app;
});
afterAll(() => engine.close());

const call = (body: object, headers: Record<string, string> = {}) =>
  app.fetch(new Request('http://orla.test/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }));

describe('the gateway on the Web-standard path', () => {
  it('maps, forwards with the backend key, and answers with Orla\'s headers', async () => {
    const res = await call({ model: 'any', messages: [{ role: 'user', content: 'hi' }] }, { 'x-orla-stage': 'reply', 'x-orla-workflow-run': 'w1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-orla-backend')).toBe('main');
    expect(res.headers.get('x-orla-workflow-run')).toBe('w1');
    expect((await res.json()).choices[0].message.content).toBe('Hi');
    const last = received.at(-1)!;
    expect(last.body.model).toBe('gpt-x');
    expect(last.headers.get('authorization')).toBe('Bearer sk-upstream');
    expect(last.headers.get('x-orla-stage')).toBeNull();
  });

  it('streams through a Web ReadableStream and drops the usage chunk the client did not ask for', async () => {
    const res = await call({ model: 'any', messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(text).toContain('"content":"Hi"');
    expect(text).not.toContain('usage');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(received.at(-1)!.body.stream_options).toEqual({ include_usage: true });
  });

  it('a client that stops reading a stream is a client that left (499), not an engine failure', async () => {
    const res = await call({ model: 'any', messages: [{ role: 'user', content: 'hi' }], stream: true, user: 'hang' });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('"content":"Hi"');
    await reader.cancel();
    await until(async () => /orla_requests_total\{[^}]*status="499"\} 1/.test(await metrics.registry.metrics()), 'the stream to be counted as a client that left (499)');
    expect(await metrics.registry.metrics()).not.toMatch(/status="50\d"/);
  });

  it('gives the OpenAI error envelope for bad input', async () => {
    const res = await app.fetch(new Request('http://orla.test/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }));
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('invalid_json');
  });

  it('asks for the gateway key on the proxied routes and the others alike, and answers with the request id', async () => {
    const config = validateConfig({
      server: { api_keys: ['sk-orla'] },
      backends: { main: { engine: 'openai', urls: ['http://engine.test/v1'] } },
      stages: { default: { backend: 'main', model: 'gpt-x' } },
    });
    const policies = await loadPolicies(config, '.');
    const backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new FetchUpstream(url, t), policies, new GatewayMetrics());
    const log = pino({ level: 'silent' });
    const guarded = createApp({ config, backends, mapper: new ExplicitMapper(config.stages), core: createCore(config, backends, { log }), platform: webPlatform, metrics: new GatewayMetrics(), log }).app;
    const chat = (headers: Record<string, string>) =>
      guarded.fetch(new Request('http://orla.test/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-web', ...headers }, body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hi' }] }) }));
    const [none, wrong, right, models] = await Promise.all([
      chat({}),
      chat({ authorization: 'Bearer sk-wrong' }),
      chat({ authorization: 'Bearer sk-orla' }),
      guarded.fetch(new Request('http://orla.test/v1/models')),
    ]);
    expect([none, wrong, right, models].map((r) => r.status)).toEqual([401, 401, 200, 401]);
    expect([none, right].map((r) => r.headers.get('x-request-id'))).toEqual(['req-web', 'req-web']);
    expect(received.at(-1)!.headers.get('authorization')).toBeNull(); // the gateway key never goes upstream
  });
});
