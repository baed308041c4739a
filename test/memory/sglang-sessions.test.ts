import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';

// Through the gateway: an SGLang client's sessions are closed when its run ends.

let engine: RecordingEngine;
let gateway: RunningGateway;
beforeAll(async () => {
  engine = await startRecordingEngine();
  gateway = await startTestGateway({ backends: { sg: { engine: 'sglang', urls: [engine.url] } }, stages: { default: { backend: 'sg', model: 'm' } } });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

const chat = (headers: Record<string, string>) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': 'run-s', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], session_params: { id: 'sess-1' } }),
  });

it("closes the run's SGLang session when the run is done, after forwarding session_params untouched", async () => {
  expect((await chat({})).status).toBe(200);
  expect(engine.received[0]!.body.session_params).toEqual({ id: 'sess-1' });
  expect(engine.received.some((r) => r.url === '/close_session')).toBe(false); // preserved between calls
  const last = await chat({ 'x-orla-workflow-done': 'true' });
  expect(last.status).toBe(200);
  await vi.waitFor(() => expect(engine.received.filter((r) => r.url === '/close_session').map((r) => r.body)).toEqual([{ session_id: 'sess-1' }]), { timeout: 10_000 });
  expect(engine.received.some((r) => r.url === '/flush_cache')).toBe(false);
});
