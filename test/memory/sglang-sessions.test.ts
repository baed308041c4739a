import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';

// Through the gateway: an SGLang client's sessions are its own. SGLang's OpenAI routes ignore
// `session_params` and take `session_id` as a label, so Orla forwards both untouched, never closes
// one, and releases a finished run with the idle global flush.

let engine: RecordingEngine;
let gateway: RunningGateway;
beforeAll(async () => {
  engine = await startRecordingEngine();
  gateway = await startTestGateway({
    backends: { sg: { engine: 'sglang', urls: [engine.url], api_key: 'client-key', admin_api_key: 'admin-key' } },
    stages: { default: { backend: 'sg', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

const chat = (headers: Record<string, string>) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': 'run-s', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], session_id: 'label-1', session_params: { id: 'sess-1' } }),
  });

it("forwards a client's session fields untouched and never closes its session; the run's end flushes the idle replica with the admin key", async () => {
  expect((await chat({ 'x-orla-cache': 'flush' })).status).toBe(200); // a flush hint mid-run
  expect((await chat({ 'x-orla-workflow-done': 'true' })).status).toBe(200);
  expect(engine.received[0]!.body).toMatchObject({ session_id: 'label-1', session_params: { id: 'sess-1' } });
  expect(engine.received[0]!.headers.authorization).toBe('Bearer client-key');
  await vi.waitFor(() => expect(engine.received.filter((r) => r.url.startsWith('/flush_cache'))).toHaveLength(2), { timeout: 10_000 });
  const flushes = engine.received.filter((r) => r.url.startsWith('/flush_cache'));
  expect(flushes.map((r) => [r.url, r.headers.authorization])).toEqual([
    ['/flush_cache?timeout=2', 'Bearer admin-key'],
    ['/flush_cache?timeout=2', 'Bearer admin-key'],
  ]);
  expect(engine.received.some((r) => r.url.includes('session'))).toBe(false);
});
