import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/wait.js';

// Orla in front of an engine that answers as llama.cpp (the simulator's llamacpp personality: N
// slots, each running one request; a request naming a busy slot waits for it). Parallel stages of
// several runs must run in parallel, as they would without Orla: no request waits for a slot while
// another sits idle. The engine is held, so the test reads exactly where each request landed.

let sim: RunningSimulator;
let gateway: RunningGateway;

beforeAll(async () => {
  sim = await startSimulator({ personality: 'llamacpp', profile: 'instant', models: ['m'], parallel: 4, slotSavePath: '/tmp', metrics: true });
  gateway = await startTestGateway({
    backends: { cpp: { engine: 'llamacpp', urls: [sim.url] } },
    stages: { plan: { backend: 'cpp', model: 'm' }, check: { backend: 'cpp', model: 'm' }, default: { backend: 'cpp', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway.close();
  await sim.close();
});

const chat = (run: string, stage: string) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': stage },
    body: JSON.stringify({ max_tokens: 4, messages: [{ role: 'user', content: `${stage} for ${run}` }] }),
  });
const slots = async () => (await (await fetch(`${sim.url}/slots`)).json()) as { id: number; is_processing: boolean }[];
const deferred = async () => Number(/^llamacpp:requests_deferred (\d+)/m.exec(await (await fetch(`${sim.url}/metrics`)).text())?.[1]);

it('runs two parallel stages of two runs on four slots at once: none waits for a busy slot', async () => {
  // Each run's first call (the adapter learns the slot count from GET /slots meanwhile).
  for (const run of ['a', 'b']) expect((await chat(run, 'plan')).status).toBe(200);
  sim.engine.pause();
  const calls = ['a', 'b'].flatMap((run) => [chat(run, 'plan'), chat(run, 'check')]);
  await until(async () => (await slots()).filter((s) => s.is_processing).length + (await deferred()) === 4, 'all four requests to reach the engine');
  expect((await slots()).filter((s) => s.is_processing)).toHaveLength(4);
  expect(await deferred()).toBe(0);
  sim.engine.resume();
  expect((await Promise.all(calls)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
});
