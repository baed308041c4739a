import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/wait.js';

// Orla in front of an engine that answers as SGLang (the simulator's sglang personality: sessions
// that reject requests once closed, /flush_cache refused while busy, waiting with ?timeout=). A
// client keeps its own session across Orla's releases — a flush hint, the idle TTL, memory pressure —
// and none of its requests fails: Orla never closes a session it did not open.

let sim: RunningSimulator;
let gateway: RunningGateway;

beforeAll(async () => {
  sim = await startSimulator({ personality: 'sglang', profile: 'instant', models: ['m'], enableCacheReport: true });
  gateway = await startTestGateway({
    backends: { sg: { engine: 'sglang', urls: [sim.url], kv_capacity_tokens: 150 } },
    stages: { default: { backend: 'sg', model: 'm' } },
    memory: { idle_ttl_s: 0.3, pressure: { interval_ms: 50, high: 0.9, low: 0.5 } },
  });
});
afterAll(async () => {
  await gateway.close();
  await sim.close();
});

const context = 'You route support tickets. '.repeat(30);
const chat = (run: string, session: string, turn: number, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, ...headers },
    body: JSON.stringify({ session_id: session, max_tokens: 4, messages: [{ role: 'system', content: context }, { role: 'user', content: `turn ${turn} of ${run}` }] }),
  });
const openSession = async (id: string) => {
  const res = await fetch(`${sim.url}/open_session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ capacity_of_str_len: 10_000, session_id: id }) });
  expect(res.status).toBe(200);
};
const actions = async (run: string) => ((await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()).cache_actions ?? []) as { action: string; reason: string }[];

it('a run goes on after a flush hint, an idle release and a pressure release, with its own session: no request fails', async () => {
  await openSession('s-1');
  expect((await chat('r', 's-1', 1, { 'x-orla-cache': 'flush' })).status).toBe(200);
  await until(async () => (await actions('r')).some((a) => a.reason === 'hint=flush'), 'the flush hint\'s release');
  expect((await chat('r', 's-1', 2)).status).toBe(200);

  // Idle past the TTL: the run ends and its cache is released; the client comes back with its session.
  await until(async () => (await fetch(`${gateway.url}/v1/workflows/r`)).status === 404, 'the idle run to end');
  expect((await chat('r', 's-1', 3)).status).toBe(200);

  // Over the ledger's high watermark (kv_capacity_tokens 150): the pressure rule releases the idle run.
  await until(async () => (await actions('r')).some((a) => a.reason.startsWith('pressure')), 'a pressure release');
  const after = await chat('r', 's-1', 4);
  expect(after.status).toBe(200);
  expect((await after.json()).choices[0].message.content).toBeTypeOf('string');

  // The session is still open at the engine: opening it again is refused as a duplicate.
  const again = await fetch(`${sim.url}/open_session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ capacity_of_str_len: 10_000, session_id: 's-1' }) });
  expect(again.status).toBe(400);
});
