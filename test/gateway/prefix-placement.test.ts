import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';

// Requests that belong to no run (a prompt-only completion) go to a replica picked by their
// prompt's opening, so a shared prefix is prefilled once, not once per replica.

let engines: RecordingEngine[];
let gateway: RunningGateway;
beforeAll(async () => {
  engines = await Promise.all([startRecordingEngine(), startRecordingEngine(), startRecordingEngine()]);
  gateway = await startTestGateway({
    backends: { pool: { engine: 'vllm', urls: engines.map((e) => e.url) } },
    stages: { default: { backend: 'pool', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway.close();
  await Promise.all(engines.map((e) => e.close()));
});

it('sends prompt-only completions that share an opening to one replica', async () => {
  const shared = 'Answer from the product manual below.\n'.repeat(40);
  for (const question of ['reset?', 'fuse?', 'warranty?', 'colours?']) {
    const res = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', prompt: `${shared}Q: ${question}`, max_tokens: 4 }),
    });
    expect(res.status).toBe(200);
    await res.text();
  }
  const served = engines.map((e) => e.received.filter((r) => r.url === '/v1/completions').length);
  expect(served.sort()).toEqual([0, 0, 4]);
});
