import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until, within } from '../helpers/wait.js';

// OneBit's classifier never fails a request: one that does not answer within `timeout_ms` sends the
// request to the fallback side, its own call is dropped (its slot freed), and /metrics says why.

let classifier: RecordingEngine;
let heavy: RecordingEngine;
let gateway: RunningGateway;

/** The classifier on `light` (which never answers), the fallback on `heavy`. */
const triageConfig = (timeoutMs: number) => ({
  backends: {
    light: { engine: 'vllm', urls: [classifier.url] },
    heavy: { engine: 'vllm', urls: [heavy.url] },
  },
  mappers: {
    triage: {
      kind: 'onebit',
      classifier: { backend: 'light', model: 'light-model', timeout_ms: timeoutMs },
      simple: { backend: 'light', model: 'light-model' },
      complex: { backend: 'heavy', model: 'heavy-model' },
      fallback: 'complex',
    },
  },
  stages: { solve: { mapper: 'triage' }, default: { backend: 'heavy', model: 'heavy-model' } },
});

beforeAll(async () => {
  [classifier, heavy] = await Promise.all([startRecordingEngine(), startRecordingEngine()]);
  classifier.respondWith(() => {}); // never answers
  gateway = await startTestGateway(triageConfig(200));
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([classifier.close(), heavy.close()]);
});

it('a classifier that does not answer within timeout_ms: the request is served on the fallback side, and counted as a timeout', async () => {
  const res = await within(
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orla-stage': 'solve' },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'Fix the flaky test.' }] }),
    }),
    'the request to be served once the classifier timed out',
  );
  expect(res.status).toBe(200);
  expect(res.headers.get('x-orla-mapped')).toBe('fallback');
  expect(res.headers.get('x-orla-backend')).toBe('heavy');
  expect(heavy.received.map((r) => r.body.model)).toEqual(['heavy-model']);

  // The classifier was asked, and its call dropped: the engine saw it go, the slot is free again.
  expect(classifier.received).toHaveLength(1);
  await within(classifier.received[0]!.aborted, 'the classifier\'s call to be aborted');
  await until(async () => {
    const light = ((await (await fetch(`${gateway.url}/v1/backends`)).json()).data as { name: string; replicas: { in_flight: number }[] }[]).find((b) => b.name === 'light')!;
    return light.replicas[0]!.in_flight === 0;
  }, 'the classifier\'s slot to be freed');

  const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
  expect(metrics).toContain('orla_mapper_fallbacks_total{mapper="triage",reason="timeout"} 1');
  expect(metrics).toMatch(/orla_mapper_decisions_total\{mapper="triage",verdict="fallback",cached="false"\} 1/);
});

it('a client that leaves while the classifier works: its call is aborted, and nothing is sent on', async () => {
  const patient = await startTestGateway(triageConfig(600_000));
  const asked = classifier.received.length;
  const served = heavy.received.length;
  const client = new AbortController();
  const left = fetch(`${patient.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-stage': 'solve' },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'Fix the other flaky test.' }] }),
    signal: client.signal,
  }).catch((err: Error) => err.name);
  await until(() => classifier.received.length === asked + 1, 'the classifier to be asked');
  client.abort();
  expect(await left).toBe('AbortError');
  await within(classifier.received[asked]!.aborted, "the classifier's call to be aborted with its client");
  expect(heavy.received).toHaveLength(served);
  await patient.close();
});
