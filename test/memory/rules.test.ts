import { afterEach, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { until } from '../helpers/wait.js';

// The memory manager's rules through the gateway, with two in-process simulated engines: what each
// response's X-Orla-Cache says, and what the workflow API records of the engines' answers.

let gateway: RunningGateway;
afterEach(() => gateway.close());

const start = async (memory: object = {}) => {
  gateway = await startTestGateway({
    backends: { light: { engine: 'simulator', profile: 'instant' }, heavy: { engine: 'simulator', profile: 'instant' } },
    stages: {
      classify: { backend: 'light', model: 'sim-instant' },
      reply: { backend: 'heavy', model: 'sim-instant' },
      default: { backend: 'heavy', model: 'sim-instant' },
    },
    memory,
  });
};

const context = 'You are a support agent. '.repeat(40);
const call = async (run: string, stage: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': stage, ...headers },
    body: JSON.stringify({ model: 'x', max_tokens: 8, messages: [{ role: 'system', content: context }, { role: 'user', content: `ticket of ${run}` }] }),
  });
  expect(res.status).toBe(200);
  return { cache: res.headers.get('x-orla-cache')!, usage: (await res.json()).usage };
};
const runInfo = async (run: string) => (await fetch(`${gateway.url}/v1/workflows/${run}`)).json();

/** Cache actions happen off the response's path: wait (bounded) until the run records them. */
async function actionsOf(run: string, count: number) {
  await until(async () => (await runInfo(run)).cache_actions?.length >= count, `run ${run} to record ${count} cache action(s)`);
  return (await runInfo(run)).cache_actions as { action: string; result: string; reason: string; backend: string }[];
}

describe('cache rules', () => {
  it('flush-per-workflow keeps a run warm on its replica, releases it when it moves on, and at its end', async () => {
    await start();
    const first = await call('r1', 'classify');
    expect(first.cache).toBe('preserve; policy=flush-per-workflow; replica=new');
    const second = await call('r1', 'classify');
    expect(second.cache).toBe('preserve; policy=flush-per-workflow; replica=hit');
    expect(second.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);

    const moved = await call('r1', 'reply');
    expect(moved.cache).toContain('released=light');
    expect(await actionsOf('r1', 1)).toEqual([expect.objectContaining({ backend: 'light', action: 'session_flush', result: 'ok', reason: 'backend-switch' })]);

    const last = await call('r1', 'reply', { 'x-orla-workflow-done': 'true' });
    expect(last.cache).toMatch(/^release; workflow-done/);
    expect((await actionsOf('r1', 2))[1]).toMatchObject({ backend: 'heavy', action: 'session_flush', result: 'ok', reason: 'completed:workflow-done' });
    const info = await runInfo('r1');
    expect(info).toMatchObject({ status: 'completed', completed_by: 'workflow-done', stages: ['classify', 'reply'], backends: ['light', 'heavy'], calls: 4 });
    expect(info.tokens.cached).toBeGreaterThan(0);
  });

  it('flush-per-request releases after every call', async () => {
    await start({ policy: 'flush-per-request' });
    expect((await call('r2', 'classify')).cache).toBe('release; policy=flush-per-request; replica=new');
    expect((await actionsOf('r2', 1))[0]).toMatchObject({ action: 'session_flush', result: 'ok', reason: 'policy=flush-per-request' });
  });

  it('a request\'s X-Orla-Cache hint wins over the policy', async () => {
    await start();
    expect((await call('r3', 'classify', { 'x-orla-cache': 'flush' })).cache).toMatch(/^release; hint=flush/);
    expect((await actionsOf('r3', 1))[0]).toMatchObject({ reason: 'hint=flush', result: 'ok' });
  });

  it('POST /v1/workflows/{run}/complete releases the run, which stays readable', async () => {
    await start();
    await call('r4', 'classify');
    const done = await fetch(`${gateway.url}/v1/workflows/r4/complete`, { method: 'POST' });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ id: 'r4', status: 'completed', completed_by: 'client' });
    expect((await actionsOf('r4', 1))[0]).toMatchObject({ action: 'session_flush', result: 'ok', reason: 'completed:client' });
    const list = await (await fetch(`${gateway.url}/v1/workflows`)).json();
    expect(list.data.map((r: { id: string }) => r.id)).toContain('r4');
    expect((await fetch(`${gateway.url}/v1/workflows/nope/complete`, { method: 'POST' })).status).toBe(404);
  });

  it('a run idle past the TTL is released and forgotten', async () => {
    await start({ idle_ttl_s: 0.2 });
    await call('r5', 'classify');
    await until(async () => (await fetch(`${gateway.url}/v1/workflows/r5`)).status === 404, 'the idle run to be forgotten');
    let metrics = '';
    const released = /orla_cache_actions_total\{engine="simulator",action="session_flush",result="ok"\} 1/;
    await until(async () => released.test((metrics = await (await fetch(`${gateway.url}/metrics`)).text())), 'the idle run\'s release to be counted');
    expect(metrics).toMatch(/orla_runs_expired_total\{reason="idle"\} 1/);
    expect(metrics).toMatch(/orla_cache_actions_total\{engine="simulator",action="session_flush",result="ok"\} 1/);
  });
});
