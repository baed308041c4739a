import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { holdAnswers, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// X-Orla-Priority works with the default scheduler configuration: a client that marks a request
// urgent need not know which policy the operator set. One slot; the engine answers only when told,
// so the order it receives requests in is the order the gateway chose.

let engine: RecordingEngine;
let gateway: RunningGateway;
let answerNext: () => Promise<void>;
beforeAll(async () => {
  engine = await startRecordingEngine();
  ({ answerNext } = holdAnswers(engine));
  gateway = await startTestGateway({
    backends: { main: { engine: 'vllm', urls: [engine.url], max_concurrency: 1 } },
    stages: { reply: { backend: 'main', model: 'm' }, default: { backend: 'main', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

const call = (name: string, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-stage': 'reply', ...headers },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: `request ${name}` }], user: name }),
  });

const waiting = async () => (await (await fetch(`${gateway.url}/v1/backends`)).json()).data[0].waiting as number;

it('with the default scheduler config, a high-priority request overtakes the backlog on its own stage', async () => {
  const first = call('first');
  await until(() => engine.received.length === 1, 'the first request to take the only slot');
  const backlog = Array.from({ length: 12 }, (_, i) => call(`backlog-${i}`));
  await until(async () => (await waiting()) === 12, 'twelve requests to wait on the stage');
  const urgent = call('urgent', { 'x-orla-priority': '10' });
  await until(async () => (await waiting()) === 13, 'the urgent request to wait too');

  for (let i = 0; i < 14; i++) await answerNext();
  expect((await Promise.all([first, ...backlog, urgent])).map((r) => r.status)).toEqual(Array(14).fill(200));
  const order = engine.received.map((r) => r.body.user);
  expect(order.slice(0, 2)).toEqual(['first', 'urgent']);
});
