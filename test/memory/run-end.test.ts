import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { asOrlaError } from '../../errors.js';
import { workflowsApi } from '../../gateway/workflows-api.js';
import { vllmAdapter } from '../../memory/engines/vllm.js';
import { MemoryManager } from '../../memory/manager.js';
import type { EngineAdapter, EngineCall } from '../../memory/types.js';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import { UndiciUpstream } from '../../routing/upstream/undici.js';
import { identify } from '../../sessions/identity.js';
import { MemorySessionStore } from '../../sessions/runs.js';
import { until } from '../helpers/wait.js';

// Runs that end in awkward moments (past the idle TTL but not yet swept; dropped while a call is in
// flight), against a vLLM adapter whose engine calls are recorded in process. The store's clock is
// injected: no waiting on real time.

const TTL_MS = 60_000;

async function setup(maxRuns: number) {
  const config = validateConfig(
    { backends: { b: { engine: 'vllm', urls: ['http://replica.test'] } }, stages: { default: { backend: 'b' } }, memory: { max_runs: maxRuns, pressure: { interval_ms: 0 } } },
    { env: {} },
  );
  const backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new UndiciUpstream(url, t), await loadPolicies(config, '.'));
  const backend = backends.get('b')!;
  const calls: string[] = [];
  const call: EngineCall = async (_url, request) => {
    calls.push(`${request.method} ${request.path}`);
    return { status: 200, text: '' };
  };
  const clock = { now: 1_000 };
  let manager!: MemoryManager;
  const store = new MemorySessionStore({ maxRuns, idleTtlMs: TTL_MS, expired: (run, why) => manager.expired(run, why), now: () => clock.now });
  // Every release the manager asks for, by run, as it asks.
  const releases: string[] = [];
  const vllm = vllmAdapter(call);
  const adapter: EngineAdapter = { ...vllm, releaseRun: (run, replica, context) => (releases.push(run), vllm.releaseRun(run, replica, context)) };
  manager = new MemoryManager(config, store, backends, new Map([['b', adapter]]));
  const plan = (run: string) => manager.plan(identify({ 'x-orla-workflow-run': run, 'x-orla-stage': 's' }, { messages: [{ role: 'user', content: 'x' }] }), backend, 'default', 'm')!;
  const done = (p: ReturnType<typeof plan>, tokens: number) =>
    manager.completed(p, { replica: backend.replicas[0]!, promptTokens: tokens, cachedTokens: 0, completionTokens: 0, costUsd: 0, toolCalls: false });
  const app = new Hono();
  app.onError((err) => {
    const error = asOrlaError(err);
    return new Response(error.body(), { status: error.status, headers: error.headers() });
  });
  app.route('/v1/workflows', workflowsApi(manager));
  return { manager, store, plan, done, calls, releases, clock, app };
}

/** Releases run off the call's path: wait until `run` has recorded `count` cache actions. */
const recorded = (run: { id: string; cacheActions: unknown[] }, count: number) =>
  until(() => run.cacheActions.length >= count, `${count} cache action(s) recorded for run ${run.id}`);

describe('a run past its idle TTL, not yet swept', () => {
  it('POST /v1/workflows/{run}/complete answers as GET does: the run, ended by the TTL, once; then 404', async () => {
    const { plan, done, clock, app, releases } = await setup(10);
    const stale = plan('stale');
    done(stale, 100);
    done(plan('stale-get'), 100);
    clock.now += TTL_MS + 1;

    const completed = await app.request('/v1/workflows/stale/complete', { method: 'POST' });
    expect(completed.status).toBe(200);
    expect(await completed.json()).toMatchObject({ id: 'stale', status: 'completed', completed_by: 'idle' });
    const read = await app.request('/v1/workflows/stale-get');
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: 'stale-get', status: 'completed', completed_by: 'idle' });

    for (const again of [app.request('/v1/workflows/stale/complete', { method: 'POST' }), app.request('/v1/workflows/stale-get')]) {
      const res = await again;
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('run_not_found');
    }
    await recorded(stale.run, 1);
    expect(stale.run.cacheActions.map((a) => a.reason)).toEqual(['completed:idle']);
    expect(releases.filter((run) => run === 'stale')).toHaveLength(1); // released once, not again by the client's call
  });
});

describe('a run dropped while one of its calls is in flight', () => {
  it('is released when the call ends, and left out of the ledger, so global flushes still run on the replica', async () => {
    const { manager, plan, done, calls } = await setup(1);
    const early = plan('early'); // in flight
    const late = plan('late'); // max_runs 1: the store evicts "early"
    expect(manager.store.get('early')).toBeUndefined();
    done(early, 100);
    await recorded(early.run, 1);
    expect(early.run.cacheActions.at(-1)).toMatchObject({ action: 'reset_prefix_cache', result: 'ok', reason: 'completed:evicted' });

    done(late, 50);
    expect(manager.complete('late')).toBeDefined();
    await recorded(late.run, 1);
    // Were "early" still in the ledger, the replica would look shared and the reset be skipped.
    expect(manager.store.get('late')!.cacheActions.at(-1)).toMatchObject({ action: 'reset_prefix_cache', result: 'ok', reason: 'completed:client' });
    expect(calls).toEqual(['POST /reset_prefix_cache', 'POST /reset_prefix_cache']);
  });
});
