import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway, twoBackendConfig } from '../helpers/gateway.js';
import { json, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until, within } from '../helpers/wait.js';

// Every way the engine or the client can fail, seen from the client. Short upstream timeouts here
// are outcomes, not races: the engine below never answers, so only the duration depends on the machine.

let engine: RecordingEngine;
let gateway: RunningGateway;
const TIMEOUTS = { connect_ms: 1000, first_byte_ms: 300, idle_ms: 300 };

beforeAll(async () => {
  engine = await startRecordingEngine();
  gateway = await startTestGateway(
    twoBackendConfig(engine.url, 'http://127.0.0.1:9', { light: { timeouts: TIMEOUTS }, server: { body_limit_mb: 0.01 } }),
  );
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});
afterEach(() => {
  engine.respondWith(undefined);
  engine.received.length = 0;
});

const chat = (extra: object = {}, init: RequestInit = {}, to: RunningGateway = gateway) =>
  fetch(`${to.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-stage': 'classify' },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }], ...extra }),
    ...init,
  });

const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;

describe('engine failures', () => {
  it('an engine that refuses the connection gives 502 with a retry hint', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' }, // default → heavy, whose port is closed
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(502);
    expect(res.headers.get('x-should-retry')).toBe('true');
    expect(res.headers.get('retry-after')).toBe('1');
    const { error } = await res.json();
    expect(error).toMatchObject({ type: 'upstream_error', code: 'upstream_failed' });
    expect(error.message).toContain('backend heavy');
    expect(error.message).not.toContain('127.0.0.1'); // no internal addresses
  });

  it('an engine error passes through with its own status and body', async () => {
    engine.respondWith((_r, res) => json(res, 400, { error: { message: 'max_tokens too large', type: 'BadRequestError', code: 400 } }));
    const res = await chat();
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBe('max_tokens too large');
    expect(res.headers.get('x-orla-backend')).toBe('light');
  });

  it('an engine that never answers gives 504', async () => {
    engine.respondWith(() => {});
    const res = await within(chat(), 'the gateway to give up on the silent engine');
    expect(res.status).toBe(504);
    expect((await res.json()).error.code).toBe('upstream_timeout');
  });

  it('a stream cut mid-way ends with an SSE error event after the chunks already sent', async () => {
    engine.respondWith((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('Hel'));
      res.write(chunk('lo'), () => res.destroy());
    });
    const res = await chat({ stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.startsWith(chunk('Hel') + chunk('lo'))).toBe(true);
    const last = text.trimEnd().split('\n\n').at(-1)!;
    expect(JSON.parse(last.slice('data: '.length)).error.type).toBe('upstream_error');
    expect(text).not.toContain('[DONE]');
  });

  it('a stream that stalls ends with a timeout error event', async () => {
    engine.respondWith((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('Hel'));
    });
    const text = await within(chat({ stream: true }).then((r) => r.text()), 'the stalled stream to be ended by the gateway');
    const last = text.trimEnd().split('\n\n').at(-1)!;
    expect(JSON.parse(last.slice('data: '.length)).error.code).toBe('upstream_timeout');
  });
});

describe('streaming head', () => {
  it('a slow engine\'s status reaches the client before its first token does', async () => {
    let sendFirstToken!: () => void;
    engine.respondWith((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      sendFirstToken = () => res.end(chunk('late') + 'data: [DONE]\n\n');
    });
    const res = await within(chat({ stream: true }), 'the response head, before any token'); // no token has been sent
    expect(res.status).toBe(200);
    sendFirstToken();
    expect(await res.text()).toContain('late');
  });
});

describe('client disconnects', () => {
  // The production timeouts (first byte 600 s, idle 120 s): only the client leaving can end the
  // engine's request within the test's bound (with the short ones above, the gateway's own timeout
  // would end it whether or not the client's leaving did).
  let patient: RunningGateway;
  beforeAll(async () => {
    patient = await startTestGateway(twoBackendConfig(engine.url, engine.url));
  });
  afterAll(() => patient.close());
  const chatPatiently = (extra: object, init: RequestInit) => chat(extra, init, patient);

  it('a client that leaves mid-stream aborts the engine\'s request', async () => {
    engine.respondWith((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk('Hel'));
    });
    const controller = new AbortController();
    const res = await chatPatiently({ stream: true }, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await within(engine.received[0]!.aborted, 'the engine\'s request to be aborted');
  });

  it('a client that leaves while the engine is still thinking aborts the engine\'s request', async () => {
    engine.respondWith(() => {});
    const controller = new AbortController();
    const pending = chatPatiently({}, { signal: controller.signal }).catch((err: Error) => err);
    await until(() => engine.received.length === 1, 'the request to reach the engine');
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await within(engine.received[0]!.aborted, 'the engine\'s request to be aborted');
  });
});

describe('limits', () => {
  it('a body over the limit gets 413 and never reaches the engine', async () => {
    const res = await chat({ filler: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('body_too_large');
    expect(engine.received).toHaveLength(0);
  });

  it('a stage or run name that cannot go back in a header gets 400 before it takes a slot', async () => {
    for (const [metadata, param] of [[{ 'orla.stage': '回复' }, 'metadata.orla.stage'], [{ orla: { workflow_run: 'a\nb' } }, 'metadata.orla.workflow_run']] as const) {
      const res = await chat({ metadata }, { headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      const { error } = await res.json();
      expect(error).toMatchObject({ type: 'invalid_request_error', param });
      expect(error.message).toContain('printable ASCII');
    }
    expect(engine.received).toHaveLength(0);
    engine.respondWith((_r, res) => json(res, 200, { id: 'x', object: 'chat.completion', choices: [] }));
    expect((await chat()).status).toBe(200); // nothing was left holding the backend
  });
});

describe('gateway auth', () => {
  let guarded: RunningGateway;
  beforeAll(async () => {
    guarded = await startTestGateway(twoBackendConfig(engine.url, engine.url, { server: { api_keys: ['sk-orla-1', 'sk-orla-2'] } }));
  });
  afterAll(() => guarded.close());

  const call = (auth?: string) =>
    fetch(`${guarded.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('refuses a missing or wrong key with 401, and never forwards the gateway key', async () => {
    for (const auth of [undefined, 'Bearer nope', 'Basic sk-orla-1']) {
      const res = await call(auth);
      expect(res.status).toBe(401);
      expect((await res.json()).error.type).toBe('authentication_error');
    }
    expect(engine.received).toHaveLength(0);
    expect((await call('Bearer sk-orla-2')).status).toBe(200);
    expect(engine.received[0]!.headers.authorization).toBeUndefined();
  });

  it('keeps health and metrics open', async () => {
    expect((await fetch(`${guarded.url}/health`)).status).toBe(200);
    expect((await fetch(`${guarded.url}/metrics`)).status).toBe(200);
  });
});
