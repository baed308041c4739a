import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { holdAnswers, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until, within } from '../helpers/wait.js';

// A stage's `reroute_wait_ms`: when its backend's estimated queue wait is longer, the request goes
// to the stage's fallback, and says so. The primary has one slot and answers only when told, so
// its queue stays exactly as the test builds it.

let primary: RecordingEngine;
let spare: RecordingEngine;
let gateway: RunningGateway;
let held: unknown[];
let answerNext: () => Promise<void>;

beforeAll(async () => {
  [primary, spare] = await Promise.all([startRecordingEngine(), startRecordingEngine()]);
  ({ held, answerNext } = holdAnswers(primary));
  const fallbacks = [{ backend: 'spare', model: 'small' }];
  gateway = await startTestGateway({
    backends: {
      primary: { engine: 'vllm', urls: [primary.url], max_concurrency: 1 },
      spare: { engine: 'vllm', urls: [spare.url] },
    },
    stages: {
      filler: { backend: 'primary', model: 'big' },
      hasty: { backend: 'primary', model: 'big', fallbacks, reroute_wait_ms: 1 },
      patient: { backend: 'primary', model: 'big', fallbacks, reroute_wait_ms: 600_000 },
      default: { backend: 'primary', model: 'big' },
    },
  });
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([primary.close(), spare.close()]);
});

const chat = (stage: string) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-stage': stage },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: `a ${stage} call` }] }),
  });

const primaryState = async () => ((await (await fetch(`${gateway.url}/v1/backends`)).json()).data as { name: string; waiting: number }[]).find((b) => b.name === 'primary')!;

it('sends a request to the fallback when the primary\'s estimated wait is over the stage\'s reroute_wait_ms, and only then', async () => {
  // A cold start: one call in flight, one waiting, no drain rate known yet. An unknown wait is no
  // reason to leave the primary, whatever the bound.
  const cold = [chat('filler'), chat('filler')];
  await until(async () => held.length === 1 && (await primaryState()).waiting === 1, 'a cold primary with one call waiting');
  const patientCold = chat('patient');
  await until(async () => (await primaryState()).waiting === 2, 'the patient request to wait on the cold primary');
  for (let i = 0; i < 3; i++) await answerNext();
  expect((await patientCold).headers.get('x-orla-backend')).toBe('primary');
  expect((await Promise.all(cold)).map((r) => r.status)).toEqual([200, 200]);
  expect(spare.received).toHaveLength(0);

  // Served calls: the primary's drain rate is known.
  for (let i = 0; i < 2; i++) {
    const warm = chat('filler');
    await answerNext();
    expect((await warm).status).toBe(200);
  }
  // One call in flight, two waiting behind it.
  const backlog = [chat('filler'), chat('filler'), chat('filler')];
  for (const call of backlog) call.catch(() => {}); // awaited below; a failing run must not add unhandled rejections
  await until(() => held.length === 1, 'the first call to take the only slot');
  await until(async () => (await primaryState()).waiting === 2, 'two calls to wait in the primary\'s queue');

  const hasty = await within(chat('hasty'), 'the hasty request to be answered (by the spare: the primary answers nothing now)');
  expect(hasty.status).toBe(200);
  expect(hasty.headers.get('x-orla-rerouted')).toBe('primary');
  expect(hasty.headers.get('x-orla-backend')).toBe('spare');
  expect(spare.received.map((r) => r.body.model)).toEqual(['small']);

  // The same wait is well under a patient stage's bound: it queues on the primary.
  const patient = chat('patient');
  await until(async () => (await primaryState()).waiting === 3, 'the patient request to wait on the primary');
  for (let i = 0; i < 4; i++) await answerNext();
  const served = await patient;
  expect(served.status).toBe(200);
  expect(served.headers.get('x-orla-backend')).toBe('primary');
  expect(served.headers.get('x-orla-rerouted')).toBeNull();
  expect((await Promise.all(backlog)).map((r) => r.status)).toEqual([200, 200, 200]);
  expect(spare.received).toHaveLength(1);
  expect(primary.received.at(-1)!.body.model).toBe('big');
});
