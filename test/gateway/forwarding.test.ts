import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway, twoBackendConfig } from '../helpers/gateway.js';
import { startRecordingEngine, USAGE, type RecordingEngine } from '../helpers/recording-engine.js';

let light: RecordingEngine;
let heavy: RecordingEngine;
let gateway: RunningGateway;

beforeAll(async () => {
  [light, heavy] = await Promise.all([startRecordingEngine(), startRecordingEngine()]);
  gateway = await startTestGateway(twoBackendConfig(light.url, heavy.url, { heavy: { api_key: 'heavy-secret' } }));
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([light.close(), heavy.close()]);
});
afterEach(() => {
  light.received.length = 0;
  heavy.received.length = 0;
});

// Calls of one conversation move between backends here, so the memory manager may also send the
// engines cache controls; these tests look at the API calls only.
const apiCalls = (engine: RecordingEngine) => engine.received.filter((r) => r.url.startsWith('/v1/'));

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(gateway.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const messages = [{ role: 'user', content: 'My card was charged twice.' }];

describe('what the engine receives', () => {
  it('gets the stage\'s model and params, no Orla header or metadata, and every other field as sent', async () => {
    const body = {
      model: 'whatever',
      messages,
      temperature: 0.9,
      user: 'u-42',
      top_k: 20, // a vLLM/SGLang extra
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' } } }],
      metadata: { 'orla.priority': 3, customer: 'acme' },
    };
    const res = await post('/v1/chat/completions', body, { 'X-Orla-Stage': 'classify', 'X-Orla-Workflow-Run': 'run-7', 'X-Orla-Tag-team': 'billing', 'X-Custom': 'passes' });
    expect(res.status).toBe(200);
    expect(light.received).toHaveLength(1);
    const got = light.received[0]!;
    expect(got.url).toBe('/v1/chat/completions');
    const { model, temperature, metadata, ...rest } = got.body;
    expect(model).toBe('light-model');
    expect(temperature).toBe(0); // the stage's params win over the client's
    expect(metadata).toEqual({ customer: 'acme' });
    const { model: _m, temperature: _t, metadata: _md, ...sentRest } = body;
    expect(rest).toEqual(sentRest);
    expect(Object.keys(got.headers).filter((h) => h.startsWith('x-orla-'))).toEqual([]);
    expect(got.headers['x-custom']).toBe('passes');
    expect(got.headers['accept-encoding']).toBe('identity');
    expect(heavy.received).toHaveLength(0);
  });

  it('tells the client where its request went', async () => {
    const res = await post('/v1/chat/completions', { model: 'x', messages }, { 'X-Orla-Stage': 'reply', 'X-Orla-Workflow-Run': 'run-7', 'X-Request-Id': 'req-abc' });
    expect(res.headers.get('x-orla-backend')).toBe('heavy');
    expect(res.headers.get('x-orla-stage')).toBe('reply');
    expect(res.headers.get('x-orla-workflow-run')).toBe('run-7');
    expect(res.headers.get('x-request-id')).toBe('req-abc');
    expect(res.headers.get('x-orla-overhead-ms')).toMatch(/^\d+(\.\d+)?$/); // present, a non-negative decimal
    expect(heavy.received[0]!.headers['x-request-id']).toBe('req-abc');
    expect((await res.json()).usage).toEqual(USAGE);
  });

  it('sends untagged and unknown stages to default, and picks a stage from model "orla:<stage>"', async () => {
    await post('/v1/chat/completions', { model: 'x', messages });
    await post('/v1/chat/completions', { model: 'x', messages }, { 'X-Orla-Stage': 'no-such-stage' });
    expect(heavy.received.map((r) => r.body.model)).toEqual(['heavy-model', 'heavy-model']);
    const res = await post('/v1/chat/completions', { model: 'orla:classify', messages });
    expect(res.headers.get('x-orla-backend')).toBe('light');
    expect(light.received[0]!.body.model).toBe('light-model');
  });

  it('answers 404 for model "orla:<stage>" naming a stage that does not exist', async () => {
    const res = await post('/v1/chat/completions', { model: 'orla:clasify', messages });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'model_not_found', param: 'model' } });
    expect(light.received.length + heavy.received.length).toBe(0);
  });

  it('sends the backend\'s key upstream, and the client\'s only where the backend has none', async () => {
    await post('/v1/chat/completions', { model: 'x', messages }, { 'X-Orla-Stage': 'reply', Authorization: 'Bearer client-key' });
    expect(heavy.received[0]!.headers.authorization).toBe('Bearer heavy-secret');
    await post('/v1/chat/completions', { model: 'x', messages }, { 'X-Orla-Stage': 'classify', Authorization: 'Bearer client-key' });
    expect(light.received.find((r) => r.url === '/v1/chat/completions')!.headers.authorization).toBe('Bearer client-key');
  });

  it('asks for usage on a stream but gives the client exactly the stream it asked for', async () => {
    const res = await post('/v1/chat/completions', { model: 'x', messages, stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(heavy.received[0]!.body.stream_options).toEqual({ include_usage: true });
    expect(text).not.toContain('"usage"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);

    const withUsage = await post('/v1/chat/completions', { model: 'x', messages, stream: true, stream_options: { include_usage: true } });
    expect(await withUsage.text()).toContain(JSON.stringify(USAGE));
  });

  it('maps and forwards completions, responses and embeddings', async () => {
    for (const [path, body] of [
      ['/v1/completions', { model: 'x', prompt: 'Once' }],
      ['/v1/responses', { model: 'x', input: 'Hi', metadata: { 'orla.stage': 'classify' } }],
      ['/v1/embeddings', { model: 'x', input: 'Hi' }],
    ] as const) {
      const res = await post(path, body);
      expect(res.status).toBe(200);
    }
    expect(apiCalls(heavy).map((r) => [r.url, r.body.model])).toEqual([
      ['/v1/completions', 'heavy-model'],
      ['/v1/embeddings', 'heavy-model'],
    ]);
    expect(apiCalls(light).map((r) => [r.url, r.body.model, r.body.metadata])).toEqual([['/v1/responses', 'light-model', undefined]]);
  });

  it('lists the stages and models a client may name', async () => {
    const res = await fetch(`${gateway.url}/v1/models`);
    const ids = (await res.json()).data.map((m: { id: string }) => m.id);
    expect(ids).toEqual(['orla:classify', 'orla:reply', 'orla:default', 'light-model', 'heavy-model']);
  });

  it('answers every route with the client\'s X-Request-Id, or a new one', async () => {
    const asked = { 'x-request-id': 'req-every' };
    const responses = await Promise.all([
      fetch(`${gateway.url}/health`, { headers: asked }),
      fetch(`${gateway.url}/v1/models`, { headers: asked }),
      fetch(`${gateway.url}/metrics`, { headers: asked }),
      fetch(`${gateway.url}/v1/nowhere`, { headers: asked }),
      post('/v1/chat/completions', { model: 'x', messages }, asked),
      post('/v1/chat/completions', { model: 'x' }, asked),
    ]);
    expect(responses.map((r) => [r.status, r.headers.get('x-request-id')])).toEqual([
      [200, 'req-every'], [200, 'req-every'], [200, 'req-every'], [404, 'req-every'], [200, 'req-every'], [400, 'req-every'],
    ]);
    // Node serves the proxied routes without Hono; what falls outside them is still Hono's to answer.
    const edges = await Promise.all([
      post('/v1/chat/completions?api-version=1', { model: 'x', messages }),
      post('/v1/chat/completions/', { model: 'x', messages }),
      fetch(`${gateway.url}/v1/chat/completions`),
    ]);
    expect(edges.map((r) => r.status)).toEqual([200, 404, 404]);
    expect((await edges[1]!.json()).error.code).toBe('unknown_route');
    const fresh = await fetch(`${gateway.url}/health`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(fresh.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('bad requests', () => {
  it.each([
    ['not JSON', '{"model": ', { 'content-type': 'application/json' }, 400, 'invalid_json', null],
    ['no messages', { model: 'x' }, {}, 400, 'invalid_value', 'messages'],
    ['a message without a role', { model: 'x', messages: [{ content: 'hi' }] }, {}, 400, 'invalid_value', 'messages[0].role'],
    ['stream not a boolean', { model: 'x', messages, stream: 'yes' }, {}, 400, 'invalid_value', 'stream'],
    ['a body that is not an object', [1, 2], {}, 400, 'invalid_body', null],
    ['a bad tag', { model: 'x', messages }, { 'X-Orla-Priority': 'urgent' }, 400, 'invalid_value', 'x-orla-priority'],
    ['not JSON at all', 'hello', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type', null],
  ])('%s gets a clear error and never reaches an engine', async (_name, body, headers, status, code, param) => {
    const res = await post('/v1/chat/completions', body, headers as Record<string, string>);
    expect(res.status).toBe(status);
    const { error } = await res.json();
    expect(error).toMatchObject({ code, param, type: 'invalid_request_error' });
    expect(error.message).toBeTruthy();
    if (param) expect(error.message).toContain(param);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(light.received.length + heavy.received.length).toBe(0);
  });

  it('answers 404 with the OpenAI envelope for an unknown route', async () => {
    const res = await post('/v1/chat/completion', { model: 'x', messages });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('unknown_route');
  });
});
