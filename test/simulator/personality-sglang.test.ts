import { describe, expect, it } from 'vitest';
import { FAULT_HEADER, SGLANG_FLUSH_TEXT, type RunningSimulator } from '../../simulator/index.js';
import { chatBody, LONG_SYSTEM, post, postJson, settleOrder, sseData, waitFor, withSimulator } from './helpers.js';

const conversation = (system: string, question: string, extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'system', content: system }, { role: 'user', content: `${question} [[sim:answer ok]]` }],
  ...extra,
});

async function cached(sim: RunningSimulator, body: Record<string, unknown>): Promise<number> {
  const { status, json } = await postJson(sim, '/v1/chat/completions', body);
  expect(status, JSON.stringify(json)).toBe(200);
  return json.usage.prompt_tokens_details?.cached_tokens ?? 0;
}

async function openSession(sim: RunningSimulator, body: Record<string, unknown> = { capacity_of_str_len: 65536 }): Promise<string> {
  const { status, json } = await postJson(sim, '/open_session', body);
  expect(status).toBe(200);
  return json;
}

const flush = (sim: RunningSimulator, query = '') => post(sim, `/flush_cache${query}`, '');
const sglang = { profile: 'instant', personality: 'sglang' } as const;

describe("personality 'sglang': /flush_cache", () => {
  it("refuses while a request waits with SGLang's 400 and flushes once idle", () =>
    withSimulator({ ...sglang, enableCacheReport: true }, async (sim) => {
      const body = conversation(LONG_SYSTEM, 'q');
      await cached(sim, body);
      sim.engine.pause();
      const inFlight = post(sim, '/v1/chat/completions', body);
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to queue');
      const refused = await flush(sim);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toBe('Flush cache failed.\n');
      sim.engine.resume();
      await (await inFlight).text();
      const flushed = await flush(sim);
      expect(flushed.status).toBe(200);
      expect(await flushed.text()).toBe(SGLANG_FLUSH_TEXT);
      expect(await cached(sim, body)).toBe(0);
    }));

  it('waits with ?timeout= for the engine to go idle, then flushes (answering after the running request)', () =>
    withSimulator({ ...sglang, enableCacheReport: true }, async (sim) => {
      const body = conversation(LONG_SYSTEM, 'q');
      await cached(sim, body);
      sim.engine.pause();
      const { track, order } = settleOrder();
      const generation = track('generation', post(sim, '/v1/chat/completions', body).then((r) => r.json()));
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to queue');
      const flushing = track('flush', flush(sim, '?timeout=60'));
      const second = await flush(sim, '?timeout=60');
      expect(second.status).toBe(400);
      expect(await second.text()).toBe('Another flush_cache is already in progress.');
      sim.engine.resume();
      const [flushed, generated] = await Promise.all([flushing, generation]);
      expect(order).toEqual(['generation', 'flush']);
      expect(flushed.status).toBe(200);
      expect(await flushed.text()).toBe(SGLANG_FLUSH_TEXT);
      expect(generated.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
      expect(await cached(sim, body)).toBe(0);
    }));

  it('gives up when the timeout passes before the engine is idle', () =>
    withSimulator(sglang, async (sim) => {
      sim.engine.pause();
      const inFlight = post(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]'));
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to queue');
      const res = await flush(sim, '?timeout=0.01');
      expect(res.status).toBe(400);
      expect(await res.text()).toBe('Timed out waiting for idle state.');
      sim.engine.resume();
      await (await inFlight).text();
      expect((await flush(sim, '?timeout=-1')).status).toBe(400);
    }));
});

describe("personality 'sglang': sessions", () => {
  it('opens a session (its id as a JSON string), refuses a duplicate id, closes with an empty 200', () =>
    withSimulator(sglang, async (sim) => {
      expect(await openSession(sim, { capacity_of_str_len: 1000, session_id: 'run-1' })).toBe('run-1');
      const duplicate = await postJson(sim, '/open_session', { capacity_of_str_len: 1000, session_id: 'run-1' });
      expect(duplicate).toEqual({ status: 400, json: { error: { message: 'Failed to open the session. Check if a session with the same id is still open.' } } });
      expect(await openSession(sim)).toMatch(/^[0-9a-f]{32}$/);
      const closed = await post(sim, '/close_session', { session_id: 'run-1' });
      expect(closed.status).toBe(200);
      expect(await closed.text()).toBe('');
      expect((await postJson(sim, '/open_session', {})).status).toBe(400);
    }));

  it('rejects a request naming an unknown or closed session, with 400 (or the error inside a 200 stream)', () =>
    withSimulator(sglang, async (sim) => {
      const unknown = await postJson(sim, '/v1/chat/completions', chatBody('x', { session_params: { id: 'nope' } }));
      expect(unknown.status).toBe(400);
      expect(unknown.json).toEqual({ object: 'error', message: 'Invalid request: session id nope does not exist', type: 'BadRequestError', param: null, code: 400 });
      const id = await openSession(sim);
      expect(await cached(sim, chatBody('x [[sim:answer ok]]', { session_id: id }))).toBe(0);
      await post(sim, '/close_session', { session_id: id });
      const closed = await postJson(sim, '/v1/chat/completions', chatBody('x', { session_params: { id } }));
      expect(closed.json.message).toBe(`Invalid request: session id ${id} does not exist`);
      const streamed = await post(sim, '/v1/chat/completions', chatBody('x', { session_id: id, stream: true }));
      expect(streamed.status).toBe(200);
      expect(sseData(await streamed.text())).toEqual([
        { error: { object: 'error', message: `Invalid request: session id ${id} does not exist`, type: 'BadRequestError', param: null, code: 400 } },
        '[DONE]',
      ]);
    }));

  it("keeps a live session's blocks through cache pressure, and lets them go once it closes", () =>
    withSimulator({ ...sglang, enableCacheReport: true, kvCapacityTokens: 2400 }, async (sim) => {
      const prefix = (name: string) => `${name}: ${LONG_SYSTEM}`;
      const id = await openSession(sim);
      const inSession = (q: string) => conversation(prefix('A'), q, { session_params: { id } });
      await cached(sim, inSession('first'));
      const warm = await cached(sim, inSession('second'));
      expect(warm).toBeGreaterThan(500);
      // Two other long prefixes: without the pin, LRU would reclaim A's blocks (see cache-control.test.ts).
      await cached(sim, conversation(prefix('B'), 'q'));
      await cached(sim, conversation(prefix('C'), 'q'));
      await cached(sim, conversation(prefix('B'), 'again'));
      expect(await cached(sim, inSession('third'))).toBe(warm);

      await post(sim, '/close_session', { session_id: id });
      await cached(sim, conversation(prefix('C'), 'again'));
      await cached(sim, conversation(prefix('B'), 'once more'));
      expect(await cached(sim, conversation(prefix('A'), 'after close'))).toBeLessThan(warm);
    }));
});

describe("personality 'sglang': keys, usage, priority, metrics, routes", () => {
  it('requires --api-key on every route but /health and /metrics, and --admin-api-key alone on /flush_cache', () =>
    withSimulator({ ...sglang, apiKey: 'user-key', adminApiKey: 'admin-key', enableMetrics: true }, async (sim) => {
      const unauthorized = await post(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]'));
      expect(unauthorized.status).toBe(401);
      expect(await unauthorized.json()).toEqual({ error: 'Unauthorized' });
      expect((await post(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]'), { authorization: 'Bearer user-key' })).status).toBe(200);
      expect((await post(sim, '/open_session', { capacity_of_str_len: 10 })).status).toBe(401);
      expect((await fetch(`${sim.url}/health`)).status).toBe(200);
      expect((await fetch(`${sim.url}/metrics`)).status).toBe(200);
      expect((await post(sim, '/flush_cache', '', { authorization: 'Bearer user-key' })).status).toBe(401);
      expect((await post(sim, '/flush_cache', '', { authorization: 'Bearer admin-key' })).status).toBe(200);
    }));

  it('with only --admin-api-key, leaves the OpenAI routes open and protects /flush_cache', () =>
    withSimulator({ ...sglang, adminApiKey: 'admin-key' }, async (sim) => {
      expect((await post(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]'))).status).toBe(200);
      expect((await post(sim, '/flush_cache', '')).status).toBe(401);
    }));

  it('reports prompt_tokens_details only with --enable-cache-report and a cached count', async () => {
    await withSimulator(sglang, async (sim) => {
      await cached(sim, conversation(LONG_SYSTEM, 'first'));
      const { json } = await postJson(sim, '/v1/chat/completions', conversation(LONG_SYSTEM, 'second'));
      expect(json.usage.prompt_tokens_details).toBeNull();
    });
    await withSimulator({ ...sglang, enableCacheReport: true }, async (sim) => {
      const first = await postJson(sim, '/v1/chat/completions', conversation(LONG_SYSTEM, 'first'));
      expect(first.json.usage.prompt_tokens_details).toBeNull();
      expect(await cached(sim, conversation(LONG_SYSTEM, 'second'))).toBeGreaterThan(500);
    });
  });

  it('ignores priority by default, refuses it with --abort-on-priority-when-disabled, serves higher first with --enable-priority-scheduling', async () => {
    await withSimulator(sglang, async (sim) => {
      expect((await postJson(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]', { priority: 3 }))).status).toBe(200);
    });
    await withSimulator({ ...sglang, abortOnPriorityWhenDisabled: true }, async (sim) => {
      const refused = await postJson(sim, '/v1/chat/completions', chatBody('x', { priority: 3 }));
      expect(refused.status).toBe(503);
      expect(refused.json.message).toBe('Using priority is disabled for this server. Please send a new request without a priority.');
    });
    await withSimulator({ ...sglang, enablePriorityScheduling: true, profileOverrides: { maxBatch: 1 } }, async (sim) => {
      sim.engine.pause();
      const { track, order } = settleOrder();
      const all = [
        track('none', postJson(sim, '/v1/chat/completions', chatBody('a [[sim:answer a]]'))),
        track('priority 1', postJson(sim, '/v1/chat/completions', chatBody('b [[sim:answer b]]', { priority: 1 }))),
        track('priority 9', postJson(sim, '/v1/chat/completions', chatBody('c [[sim:answer c]]', { priority: 9 }))),
      ];
      await waitFor(() => sim.engine.stats().waiting === 3, 'the requests to queue');
      sim.engine.resume();
      await Promise.all(all);
      expect(order).toEqual(['priority 9', 'priority 1', 'none']);
    });
  });

  it('serves sglang:* metrics with --enable-metrics (token_usage counts a live session), else 404', async () => {
    await withSimulator(sglang, async (sim) => {
      expect((await fetch(`${sim.url}/metrics`)).status).toBe(404);
    });
    await withSimulator({ ...sglang, enableMetrics: true }, async (sim) => {
      const id = await openSession(sim);
      await cached(sim, conversation(LONG_SYSTEM, 'q', { session_id: id }));
      const text = await (await fetch(`${sim.url}/metrics`)).text();
      for (const name of ['sglang:token_usage', 'sglang:num_running_reqs', 'sglang:num_queue_reqs', 'sglang:cache_hit_rate', 'sglang:prompt_tokens_total', 'sglang:generation_tokens_total']) {
        expect(text).toContain(name);
      }
      expect(Number(/^sglang:token_usage\{[^}]*\} (\S+)$/m.exec(text)![1])).toBeGreaterThan(0);
    });
  });

  it('lists its model with owned_by sglang', () =>
    withSimulator(sglang, async (sim) => {
      const models = await (await fetch(`${sim.url}/v1/models`)).json();
      expect(models.data).toEqual([{ id: 'sim-instant', object: 'model', created: expect.any(Number), owned_by: 'sglang', root: 'sim-instant', max_model_len: expect.any(Number) }]);
    }));

  it('has no /reset_prefix_cache or /v1/sessions; unknown routes answer FastAPI 404', () =>
    withSimulator(sglang, async (sim) => {
      for (const path of ['/reset_prefix_cache', '/v1/sessions/run-1/flush', '/nope']) {
        const res = await post(sim, path, '');
        expect(res.status, path).toBe(404);
        expect(await res.json()).toEqual({ detail: 'Not Found' });
      }
    }));

  it("writes SGLang's error event inside the 200 stream on error-after, then [DONE]", () =>
    withSimulator({ ...sglang, faults: true }, async (sim) => {
      const res = await post(sim, '/v1/chat/completions', { ...chatBody('[[sim:answer one two three four]]'), stream: true }, { [FAULT_HEADER]: 'error-after=1' });
      expect(res.status).toBe(200);
      const events = (await res.text()).split('\n\n').filter(Boolean);
      expect(events.slice(-2)).toEqual([
        'data: {"error": {"object": "error", "message": "simulated engine failure", "type": "BadRequestError", "param": null, "code": 400}}',
        'data: [DONE]',
      ]);
    }));
});
