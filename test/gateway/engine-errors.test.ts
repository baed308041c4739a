import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { json, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';

// Only the engine's failures count against a replica: an error event inside a 200 stream does (the
// client still gets its bytes), a body Orla refuses never does, and an engine's error answer that is
// not OpenAI's envelope reaches the client in one.

let engine: RecordingEngine;
let gateway: RunningGateway;

beforeAll(async () => {
  engine = await startRecordingEngine();
  gateway = await startTestGateway({
    backends: {
      main: { engine: 'vllm', urls: [engine.url], circuit: { failures: 2, open_ms: 600_000 }, retries: { attempts: 0 } },
      // The same engine behind a backend of its own, whose circuit the stream-error test opens.
      flaky: { engine: 'vllm', urls: [engine.url], circuit: { failures: 2, open_ms: 600_000 }, retries: { attempts: 0 } },
    },
    stages: { default: { backend: 'main', model: 'm' }, flaky: { backend: 'flaky', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});
afterEach(() => {
  engine.respondWith(undefined);
  engine.received.length = 0;
});

const post = (path: string, body: object | string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const chat = (extra: object = {}, headers: Record<string, string> = {}) =>
  post('/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], ...extra }, headers);
const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
/** vLLM's mid-stream error (serving_chat.py: `data: {json.dumps({"error": …})}`, then `data: [DONE]`). */
const errorEvent = (code: number) => `data: {"error": {"object": "error", "message": "engine core died", "type": "InternalServerError", "param": null, "code": ${code}}}\n\n`;
const circuitOf = async (backend: string) => {
  const { data } = (await (await fetch(`${gateway.url}/v1/backends`)).json()) as { data: { name: string; replicas: { circuit: string }[] }[] };
  return data.find((b) => b.name === backend)!.replicas[0]!.circuit;
};
const run = async (id: string) => (await fetch(`${gateway.url}/v1/workflows/${id}`)).json();

describe('errors inside a 200 stream', () => {
  it('reach the client unchanged, fail the call in the run record and the metrics, and open the circuit', async () => {
    const stream = chunk('Hel') + errorEvent(500) + 'data: [DONE]\n\n';
    engine.respondWith((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(stream);
    });
    for (const id of ['err-1', 'err-2']) {
      const res = await chat({ stream: true }, { 'x-orla-workflow-run': id, 'x-orla-stage': 'flaky' });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(stream); // not a byte added or dropped
    }
    expect(await circuitOf('flaky')).toBe('open'); // accounted before the last bytes left
    const record = await run('err-2');
    expect(record.failed_calls).toBe(1);
    expect(record.last_error).toMatchObject({ status: 500, backend: 'flaky', stage: 'flaky' });
    expect(record.last_error.message).toBe('backend flaky: the engine reported an error mid-stream (InternalServerError)');
    expect(record.last_error.message).not.toContain('engine core died'); // an engine's text may quote the prompt
    expect(record.tokens.prompt).toBe(0); // a failed call is not accounted as served
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/orla_requests_total\{[^}]*status="500"[^}]*\} 2/);

    engine.respondWith(undefined);
    const rejected = await chat({}, { 'x-orla-stage': 'flaky' });
    expect(rejected.status).toBe(503); // the circuit is open: the engine sees nothing more
    expect(engine.received).toHaveLength(2);
  });
});

describe('bodies Orla refuses never count against the engine', () => {
  it('a body nested thousands deep is a 400 naming the problem, and the circuit stays closed', async () => {
    const deep = `{"messages":[{"role":"user","content":"hi"}],"extra":${'['.repeat(6000)}${']'.repeat(6000)}}`;
    for (let i = 0; i < 5; i++) {
      const res = await post('/v1/chat/completions', deep);
      expect(res.status).toBe(400);
      const { error } = await res.json();
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'body_too_deep' });
      expect(error.message).toContain('nested deeper than 128 levels');
    }
    expect(engine.received).toHaveLength(0);
    expect(await circuitOf('main')).toBe('closed');
    expect((await chat()).status).toBe(200);
  });

  it('a body at the documented depth goes through', async () => {
    const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);
    const res = await chat({ extra: nested(126) }); // the body and its `extra` key make 128
    expect(res.status).toBe(200);
  });
});

describe("an engine's error answer", () => {
  it('in FastAPI\'s shape reaches the client in the OpenAI envelope, with its status', async () => {
    engine.respondWith((_r, res) => json(res, 404, { detail: 'Not Found' }));
    const res = await post('/v1/responses', { input: 'hi' });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: { message: 'backend main: the engine answered 404: Not Found', type: 'not_found_error', code: 'upstream_404', param: null },
    });
  });

  it('already in the OpenAI envelope passes through as it was', async () => {
    const body = { error: { message: 'max_tokens too large', type: 'BadRequestError', param: 'max_tokens', code: 400 } };
    engine.respondWith((_r, res) => json(res, 400, body));
    const res = await chat();
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(body);
  });
});
