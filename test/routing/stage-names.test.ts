import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { holdAnswers, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// A client names its stages, but only the config makes queues: a stage the config does not know
// waits in `default`'s queue, so inventing names buys no extra share under `fair`, and the queues
// /v1/backends shows are bounded by the config.

let engine: RecordingEngine;
let gateway: RunningGateway;
let answerNext: () => Promise<void>;
let held: unknown[];

beforeAll(async () => {
  engine = await startRecordingEngine();
  ({ held, answerNext } = holdAnswers(engine));
  gateway = await startTestGateway({
    backends: { main: { engine: 'vllm', urls: [engine.url], max_concurrency: 1, scheduler: 'fair' } },
    stages: { reply: { backend: 'main', model: 'm' }, default: { backend: 'main', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

const chat = (stage: string) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-stage': stage },
    body: JSON.stringify({ messages: [{ role: 'user', content: stage }] }),
  });

it('queues a request of a stage the config does not know in default\'s queue, whatever name it gave', async () => {
  const calls = [chat('reply'), ...Array.from({ length: 4 }, (_, i) => chat(`invented-${i}`)), chat('reply')];
  await until(() => held.length === 1, 'the first call to take the only slot');
  const backends = async () => (await (await fetch(`${gateway.url}/v1/backends`)).json()).data[0];
  await until(async () => (await backends()).waiting === 5, 'five calls to wait');
  expect((await backends()).queues).toEqual({ default: 4, reply: 1 });
  for (let i = 0; i < 6; i++) await answerNext();
  const responses = await Promise.all(calls);
  expect(responses.map((r) => r.headers.get('x-orla-stage'))).toEqual(['reply', 'invented-0', 'invented-1', 'invented-2', 'invented-3', 'reply']);
  // Under fair, the two configured stages alternate: reply's second call is not served last.
  expect(engine.received.map((r) => (r.body.messages as { content: string }[])[0]!.content).indexOf('reply', 1)).toBeLessThan(5);
});
