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
beforeAll(async () => {
  [classifier, heavy] = await Promise.all([startRecordingEngine(), startRecordingEngine()]);
  classifier.respondWith(() => {}); // never answers
  gateway = await startTestGateway({
    backends: {
      light: { engine: 'vllm', urls: [classifier.url] },
      heavy: { engine: 'vllm', urls: [heavy.url] },
    },
    mappers: {
      triage: {
        kind: 'onebit',
        classifier: { backend: 'light', model: 'light-model', timeout_ms: 200 },
        simple: { backend: 'light', model: 'light-model' },
        complex: { backend: 'heavy', model: 'heavy-model' },
        fallback: 'complex',
      },
    },
    stages: { solve: { mapper: 'triage' }, default: { backend: 'heavy', model: 'heavy-model' } },
  });
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
