import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startTestGateway } from '../helpers/gateway.js';

// Affinity seen from outside: a backend of three replicas (three simulated engines), runs whose
// conversations grow call after call. Each run's calls go back to the replica that holds its
// prefix, while the runs themselves spread over the replicas.

const SYSTEM = Array.from({ length: 30 }, (_, i) => `Rule ${i}: cite the policy section ${i * 3}.`).join('\n');
const CALLS_PER_RUN = 5;
const RUNS = ['affinity-a', 'affinity-b', 'affinity-c'];

let sims: RunningSimulator[];
let gateway: RunningGateway;
beforeAll(async () => {
  sims = await Promise.all([0, 1, 2].map(() => startSimulator({ profile: 'instant', models: ['m'] })));
  gateway = await startTestGateway({
    backends: { pool: { engine: 'simulator', urls: sims.map((s) => s.url) } },
    stages: { default: { backend: 'pool', model: 'm' } },
  });
});
afterAll(async () => {
  await gateway?.close();
  await Promise.all(sims.map((s) => s.close()));
});

interface Turn {
  cache: string;
  cachedTokens: number;
}

/** One agent run: each call resends the whole conversation so far, plus one more user turn. */
async function agentRun(run: string): Promise<Turn[]> {
  const messages: { role: string; content: string }[] = [{ role: 'system', content: SYSTEM }];
  const turns: Turn[] = [];
  for (let i = 0; i < CALLS_PER_RUN; i++) {
    messages.push({ role: 'user', content: `${run}: step ${i}, go on.` });
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': 'solve' },
      body: JSON.stringify({ model: 'm', messages, max_tokens: 12 }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    messages.push({ role: 'assistant', content: body.choices[0].message.content });
    turns.push({ cache: res.headers.get('x-orla-cache') ?? '', cachedTokens: body.usage.prompt_tokens_details?.cached_tokens ?? 0 });
  }
  return turns;
}

/** How many requests a simulated engine served, from its own /metrics. */
async function served(sim: RunningSimulator): Promise<number> {
  const text = await (await fetch(`${sim.url}/metrics`)).text();
  return Number(/^vllm:time_to_first_token_seconds_count\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

it('sends each run\'s calls to one replica, the one holding its prefix, and spreads the runs over the replicas', async () => {
  const turns = await Promise.all(RUNS.map(agentRun));

  for (const run of turns) {
    expect(run[0]!.cache).toContain('replica=new');
    for (const later of run.slice(1)) {
      expect(later.cache).toContain('replica=hit');
      expect(later.cachedTokens).toBeGreaterThan(0); // the engine had the conversation's prefix
    }
  }
  const records = await Promise.all(RUNS.map(async (run) => (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()));
  for (const record of records) expect(record.replicas).toHaveLength(1);
  expect(new Set(records.map((r) => r.replicas[0])).size).toBe(3);
  // The engines' own count: each served one whole run.
  expect(await Promise.all(sims.map(served))).toEqual([CALLS_PER_RUN, CALLS_PER_RUN, CALLS_PER_RUN]);
});
