import { afterEach, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/wait.js';

// Many agent runs at once on two replicas, at an ordinary load (16 runs, 64 slots per replica):
// every run keeps to the replica that holds its growing prefix, and the runs still spread over both.
// Leaving a run's replica pays its whole prefill again; at this load no imbalance is worth that.
// (SGLang's router leaves cache affinity only when the busiest worker has both more than 64
// requests over the idlest and more than 1.5 times as many.)

const RUNS = 16;
const CALLS_PER_RUN = 6;
const SYSTEM = Array.from({ length: 40 }, (_, i) => `Tool rule ${i}: check the repository state before step ${i}.`).join('\n');

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

/** Two replicas of H100-calibrated simulated engines, 20x faster: a call takes milliseconds, and runs overlap. */
async function setup() {
  const sims = await Promise.all([0, 1].map(() => startSimulator({ profile: 'qwen3-8b-h100', speed: 20, models: ['m'] })));
  const gateway = await startTestGateway({
    backends: { pool: { engine: 'simulator', urls: sims.map((s) => s.url), max_concurrency: 64 } },
    stages: { default: { backend: 'pool', model: 'm' } },
  });
  open.push(gateway, ...sims);
  return { sims, gateway };
}

/** An untagged agent loop: the same system prompt and task each call, the conversation growing. Resolves to its run id. */
async function agentRun(gateway: RunningGateway, task: number): Promise<string> {
  const messages: { role: string; content: string }[] = [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: `Task ${task}: make the failing test ${task} pass.` },
  ];
  let run = '';
  for (let call = 0; call < CALLS_PER_RUN; call++) {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages, max_tokens: 16 + ((task * 7 + call * 5) % 24) }),
    });
    expect(res.status).toBe(200);
    run = res.headers.get('x-orla-workflow-run')!;
    const body = await res.json();
    messages.push({ role: 'assistant', content: body.choices[0].message.content }, { role: 'user', content: `Result of step ${call}: ok.` });
  }
  return run;
}

/** No run was split over the replicas, and the runs cover both. */
async function expectOneReplicaPerRun(gateway: RunningGateway, sims: RunningSimulator[], runs: string[]): Promise<void> {
  expect(new Set(runs).size).toBe(RUNS);
  const records = await Promise.all(runs.map(async (run) => (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()));
  expect(records.map((r) => r.calls)).toEqual(runs.map(() => CALLS_PER_RUN));
  const split = records.filter((r) => r.replicas.length !== 1).map((r) => `${r.id} ran on ${r.replicas.length} replicas`);
  expect(split).toEqual([]);
  const perReplica = sims.map((s) => records.filter((r) => r.replicas[0] === s.url).length);
  expect(perReplica.every((n) => n > 0)).toBe(true);
}

const inFlight = async (gateway: RunningGateway) =>
  ((await (await fetch(`${gateway.url}/v1/backends`)).json()).data[0].replicas as { in_flight: number }[]).map((r) => r.in_flight);

it('keeps every one of 16 concurrent agent runs on one replica, and spreads the runs over both', async () => {
  const { sims, gateway } = await setup();
  const runs = await Promise.all(Array.from({ length: RUNS }, (_, task) => agentRun(gateway, task)));
  await expectOneReplicaPerRun(gateway, sims, runs);
});

it('keeps the runs on their replica when the other replica\'s runs finish first and it sits idle', async () => {
  const { sims, gateway } = await setup();
  // Both engines stall until every run's first call is in: eight runs on each replica.
  for (const s of sims) s.engine.pause();
  let finished = 0;
  const running = Array.from({ length: RUNS }, (_, task) => agentRun(gateway, task).then((run) => (finished++, run)));
  for (const run of running) run.catch(() => {}); // awaited below; a failing run must not add unhandled rejections
  await until(async () => (await inFlight(gateway)).join() === '8,8', 'eight first calls in flight on each replica');
  // The first replica's runs go all the way; the second's are still on their first call.
  sims[0]!.engine.resume();
  await until(() => finished === RUNS / 2, 'the first replica\'s eight runs to finish');
  expect(await inFlight(gateway)).toEqual([0, 8]);
  // Now the second replica's runs go on. An idle replica next to eight busy runs is no reason to
  // leave their prefixes: 8 in flight is nowhere near 64 more than the idle one.
  sims[1]!.engine.resume();
  await expectOneReplicaPerRun(gateway, sims, await Promise.all(running));
});
