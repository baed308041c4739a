import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { asOrlaError } from '../../errors.js';
import { ANONYMOUS, type AuthEnv } from '../../gateway/auth.js';
import { workflowsApi } from '../../gateway/workflows-api.js';
import { vllmCache } from '../../upstream/engines/vllm.js';
import type { EngineCall } from '../../upstream/engines/index.js';
import { setup, TTL_MS } from './harness.js';

// Runs that end in awkward moments (past the idle TTL but not yet swept; dropped while a call is in
// flight), against a vLLM adapter whose engine calls are recorded in process.

async function vllmSetup(maxRuns: number) {
  const calls: string[] = [];
  const call: EngineCall = async (_url, request) => {
    calls.push(`${request.method} ${request.path}`);
    return { status: 200, text: '' };
  };
  const harness = await setup({ backends: { b: { engine: 'vllm', urls: ['http://replica.test'] } }, maxRuns, adapterOf: () => vllmCache(call) });
  const app = new Hono<AuthEnv>();
  app.use('*', async (c, next) => {
    c.set('principal', ANONYMOUS); // no keys configured
    await next();
  });
  app.onError((err) => {
    const error = asOrlaError(err);
    return new Response(error.body(), { status: error.status, headers: error.headers() });
  });
  app.route('/v1/workflows', workflowsApi(harness));
  return { ...harness, calls, app };
}

describe('a run past its idle TTL, not yet swept', () => {
  it('POST /v1/workflows/{run}/complete answers with the run once, released once; then 404', async () => {
    const { begin, end, clock, app, settle, calls } = await vllmSetup(10);
    await end(await begin('stale', 'default'), 100);
    await end(await begin('stale-get', 'default'), 100);
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
    await settle();
    // Each run released once, by the TTL's end (the client's completion found it ended): the first
    // skipped while the other was still cached on the replica, the second a reset.
    expect(calls).toEqual(['POST /reset_prefix_cache']);
  });
});

describe('a run dropped while one of its calls is in flight', () => {
  it('is released when the call ends, and left out of the ledger, so global flushes still run on the replica', async () => {
    const { begin, end, complete, runs, calls, settle } = await vllmSetup(1);
    const early = await begin('early', 'default'); // in flight
    const late = await begin('late', 'default'); // max_runs 1: the store evicts "early"
    expect(await runs.get('early')).toBeUndefined();
    await end(early, 100);
    await settle();
    await end(late, 50);
    await complete('late');
    await settle();
    // Were "early" still in the ledger, the replica would look shared and the reset be skipped.
    expect((await runs.get('late'))!.cacheActions.at(-1)).toMatchObject({ action: 'reset_prefix_cache', result: 'ok', reason: 'completed:client' });
    expect(calls).toEqual(['POST /reset_prefix_cache']);
  });
});
