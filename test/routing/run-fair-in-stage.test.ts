import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { holdAnswers, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// run-fair (Autellix's PLAS): the request whose run has been served the fewest tokens goes first,
// so one long run cannot make many short runs wait. Agent runs mostly share their stages, so this
// must hold inside one stage's queue too, not only between stages. One slot; the engine answers
// only when told, so the order it receives requests in is the order the gateway chose.

let engine: RecordingEngine;
let gateway: RunningGateway;
let answerNext: () => Promise<void>;
beforeAll(async () => {
  engine = await startRecordingEngine();
  ({ answerNext } = holdAnswers(engine));
  gateway = await startTestGateway({
    backends: { main: { engine: 'vllm', urls: [engine.url], max_concurrency: 1 } },
    // A long aging_ms: no request counts as aged while the test builds the queue.
    scheduler: { stage: 'run-fair', aging_ms: 600_000 },
    stages: { s: { backend: 'main', model: 'm' }, default: { backend: 'main', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

const call = (run: string, i: number) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': 's' },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: `${run} call ${i}` }], user: run }),
  });

const waiting = async () => (await (await fetch(`${gateway.url}/v1/backends`)).json()).data[0].waiting as number;

it('serves short runs\' calls before a long run\'s backlog on the same stage', async () => {
  // The long run bursts 16 calls: one takes the slot, 15 wait.
  const long = Array.from({ length: 16 }, (_, i) => call('long', i));
  await until(async () => (await waiting()) === 15, 'the long run\'s backlog to queue');
  // Four short runs, one call each, behind it on the same stage.
  const short = ['short-1', 'short-2', 'short-3', 'short-4'].map((run) => call(run, 0));
  await until(async () => (await waiting()) === 19, 'the short runs\' calls to queue');

  for (let i = 0; i < 20; i++) await answerNext();
  expect((await Promise.all([...long, ...short])).map((r) => r.status)).toEqual(Array(20).fill(200));

  const order = engine.received.map((r) => r.body.user as string);
  expect(order[0]).toBe('long'); // it had the slot before anyone else came
  // Then the long run has been served tokens and the short runs none: they go next.
  expect(order.slice(1, 5).sort()).toEqual(['short-1', 'short-2', 'short-3', 'short-4']);
  expect(order.slice(5)).toEqual(Array(15).fill('long'));
});
