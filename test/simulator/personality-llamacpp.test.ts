import { describe, expect, it } from 'vitest';
import { FAULT_HEADER, type RunningSimulator } from '../../simulator/index.js';
import { chatBody, LONG_SYSTEM, post, postJson, settleOrder, waitFor, withSimulator } from './helpers.js';

const llamacpp = { profile: 'instant', personality: 'llamacpp' } as const;
const ask = (question: string, extra: Record<string, unknown> = {}) => ({
  messages: [{ role: 'system', content: LONG_SYSTEM }, { role: 'user', content: `${question} [[sim:answer ok]]` }],
  ...extra,
});

async function cached(sim: RunningSimulator, body: Record<string, unknown>): Promise<number> {
  const { status, json } = await postJson(sim, '/v1/chat/completions', body);
  expect(status, JSON.stringify(json)).toBe(200);
  return json.usage.prompt_tokens_details.cached_tokens;
}

async function slots(sim: RunningSimulator): Promise<any[]> {
  const res = await fetch(`${sim.url}/slots`);
  expect(res.status).toBe(200);
  return res.json();
}

async function metric(sim: RunningSimulator, name: string): Promise<number> {
  const text = await (await fetch(`${sim.url}/metrics`)).text();
  return Number(new RegExp(`^llamacpp:${name} (\\S+)$`, 'm').exec(text)![1]);
}

describe("personality 'llamacpp': slots", () => {
  it('runs at most --parallel requests; the others wait (deferred) until a slot frees', () =>
    withSimulator({ ...llamacpp, parallel: 2, metrics: true }, async (sim) => {
      sim.engine.pause();
      const all = Array.from({ length: 5 }, (_, i) => postJson(sim, '/v1/chat/completions', chatBody(`q${i} [[sim:answer ok]]`)));
      await waitFor(async () => (await metric(sim, 'requests_deferred')) === 3, 'three requests to be deferred');
      const engine = sim.engine.stats();
      expect(engine.running + engine.waiting).toBe(2);
      expect((await slots(sim)).map((s) => s.is_processing)).toEqual([true, true]);
      expect(await metric(sim, 'requests_processing')).toBe(2);
      sim.engine.resume();
      for (const { status } of await Promise.all(all)) expect(status).toBe(200);
      expect(await metric(sim, 'requests_deferred')).toBe(0);
    }));

  it('defers a request naming a busy slot until that slot frees, never moving it to an idle one', () =>
    withSimulator({ ...llamacpp, parallel: 2, metrics: true }, async (sim) => {
      sim.engine.pause();
      const { track, order } = settleOrder();
      const first = track('first', postJson(sim, '/v1/chat/completions', chatBody('a [[sim:answer a]]', { id_slot: 0 })));
      const second = track('second', postJson(sim, '/v1/chat/completions', chatBody('b [[sim:answer b]]', { id_slot: 0 })));
      await waitFor(async () => (await metric(sim, 'requests_deferred')) === 1, 'the second request to be deferred');
      expect((await slots(sim)).map((s) => s.is_processing)).toEqual([true, false]);
      sim.engine.resume();
      await Promise.all([first, second]);
      expect(order).toEqual(['first', 'second']);
      const [slot0, slot1] = await slots(sim);
      expect(slot0.id_task).toBe(1); // the second task ran in slot 0
      expect(slot1).not.toHaveProperty('id_task'); // slot 1 never ran a task
    }));

  it('reuses a prompt prefix only in the slot that holds it', () =>
    withSimulator({ ...llamacpp, parallel: 2 }, async (sim) => {
      expect(await cached(sim, ask('first', { id_slot: 0 }))).toBe(0);
      expect(await cached(sim, ask('second', { id_slot: 1 }))).toBe(0);
      expect(await cached(sim, ask('third', { id_slot: 0 }))).toBeGreaterThan(500);
      // cache_prompt: false reuses nothing.
      expect(await cached(sim, ask('fifth', { id_slot: 0, cache_prompt: false }))).toBe(0);
    }));

  it('without id_slot, picks the slot sharing most of the prompt over the least recently used one', () =>
    withSimulator({ ...llamacpp, parallel: 2 }, async (sim) => {
      await cached(sim, ask('first', { id_slot: 0 }));
      // Slot 1 has never run (the least recently used), but slot 0 holds the prompt's prefix.
      expect(await cached(sim, ask('second'))).toBeGreaterThan(500);
      expect((await slots(sim))[1]).not.toHaveProperty('id_task');
    }));

  it('without id_slot and with no similar slot, picks the least recently used idle slot', () =>
    withSimulator({ ...llamacpp, parallel: 2, slotPromptSimilarity: 0 }, async (sim) => {
      await cached(sim, ask('first', { id_slot: 0 }));
      expect(await cached(sim, ask('second'))).toBe(0);
      expect((await slots(sim))[1].id_task).toBe(1);
    }));

  it('forgets what a slot held past the common prefix when it takes another prompt', () =>
    withSimulator({ ...llamacpp, parallel: 1 }, async (sim) => {
      const a = { messages: [{ role: 'user', content: `${LONG_SYSTEM} A [[sim:answer ok]]` }] };
      const b = { messages: [{ role: 'user', content: `Something else entirely. ${LONG_SYSTEM} [[sim:answer ok]]` }] };
      await cached(sim, a);
      expect(await cached(sim, a)).toBeGreaterThan(500);
      await cached(sim, b); // the one slot now holds b
      expect(await cached(sim, a)).toBeLessThan(32);
    }));

  it('lists slots with llama.cpp field names', () =>
    withSimulator({ ...llamacpp, parallel: 2 }, async (sim) => {
      await cached(sim, ask('q', { id_slot: 1 }));
      const [idle, used] = await slots(sim);
      expect(idle).toEqual({ id: 0, n_ctx: expect.any(Number), speculative: false, is_processing: false });
      expect(used).toMatchObject({ id: 1, speculative: false, is_processing: false, id_task: 0, n_prompt_tokens: expect.any(Number), n_prompt_tokens_cache: 0 });
      expect(used.next_token[0]).toMatchObject({ has_next_token: false, n_decoded: expect.any(Number) });
    }));
});

describe("personality 'llamacpp': slot actions", () => {
  it('answers 501 without --slot-save-path', () =>
    withSimulator(llamacpp, async (sim) => {
      const res = await post(sim, '/slots/0?action=erase', '');
      expect(res.status).toBe(501);
      expect(await res.json()).toEqual({ error: { code: 501, message: 'This server does not support slots action. Start it with `--slot-save-path`', type: 'not_supported_error' } });
    }));

  it('erases an idle slot at once: its prompt is no longer reused', () =>
    withSimulator({ ...llamacpp, parallel: 2, slotSavePath: '/tmp/slots' }, async (sim) => {
      await cached(sim, ask('first', { id_slot: 0 }));
      const { status, json } = await postJson(sim, '/slots/0?action=erase', '');
      expect(status).toBe(200);
      expect(json).toEqual({ id_slot: 0, n_erased: expect.any(Number) });
      expect(json.n_erased).toBeGreaterThan(500);
      expect(await cached(sim, ask('second', { id_slot: 0 }))).toBe(0);
      expect((await postJson(sim, '/slots/x?action=erase', '')).json.error).toMatchObject({ code: 400, message: 'Invalid slot ID' });
      expect((await postJson(sim, '/slots/0?action=wipe', '')).json.error).toMatchObject({ code: 400, message: 'Invalid action' });
    }));

  it('defers an erase of a busy slot until its request is done', () =>
    withSimulator({ ...llamacpp, parallel: 2, slotSavePath: '/tmp/slots' }, async (sim) => {
      sim.engine.pause();
      const { track, order } = settleOrder();
      const generation = track('generation', postJson(sim, '/v1/chat/completions', ask('q', { id_slot: 0 })));
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to reach the engine');
      const erase = track('erase', postJson(sim, '/slots/0?action=erase', ''));
      await waitFor(async () => (await slots(sim))[0].is_processing === true, 'slot 0 to be busy');
      sim.engine.resume();
      const [generated, erased] = await Promise.all([generation, erase]);
      expect(order).toEqual(['generation', 'erase']);
      // The slot holds the prompt and the generated tokens but the last sampled one (server-context.cpp).
      expect(erased.json.n_erased).toBe(generated.json.usage.prompt_tokens + generated.json.usage.completion_tokens - 1);
    }));
});

describe("personality 'llamacpp': wire", () => {
  it('reports cached tokens always, with timings; ignores priority and the model name', () =>
    withSimulator(llamacpp, async (sim) => {
      const { status, json } = await postJson(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]', { priority: 7, model: 'whatever.gguf' }));
      expect(status).toBe(200);
      expect(json.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
      expect(Object.keys(json.timings)).toEqual(['cache_n', 'prompt_n', 'prompt_ms', 'prompt_per_token_ms', 'prompt_per_second', 'predicted_n', 'predicted_ms', 'predicted_per_token_ms', 'predicted_per_second']);
      expect(json.timings.predicted_n).toBe(json.usage.completion_tokens);
    }));

  it("answers unknown routes and errors in llama.cpp's envelope; /metrics only with --metrics", () =>
    withSimulator(llamacpp, async (sim) => {
      for (const path of ['/flush_cache', '/reset_prefix_cache', '/v1/sessions/run-1/flush']) {
        const res = await post(sim, path, '');
        expect(res.status, path).toBe(404);
        expect(await res.json()).toEqual({ error: { code: 404, message: 'File Not Found', type: 'not_found_error' } });
      }
      expect((await fetch(`${sim.url}/v1/chat/completions`)).status).toBe(404);
      const bad = await postJson(sim, '/v1/chat/completions', { messages: [] });
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ error: { code: 400, message: expect.any(String), type: 'invalid_request_error' } });
      const metrics = await fetch(`${sim.url}/metrics`);
      expect(metrics.status).toBe(501);
      expect((await metrics.json()).error.message).toBe('This server does not support metrics endpoint. Start it with `--metrics`');
    }));

  it("answers /health and /v1/models as llama-server does", () =>
    withSimulator(llamacpp, async (sim) => {
      expect(await (await fetch(`${sim.url}/health`)).json()).toEqual({ status: 'ok' });
      const models = await (await fetch(`${sim.url}/v1/models`)).json();
      expect(models.data[0]).toMatchObject({ id: 'sim-instant', object: 'model', owned_by: 'llamacpp' });
      expect(models.models[0]).toMatchObject({ name: 'sim-instant', model: 'sim-instant' });
    }));

  it('serves llamacpp:* metrics with --metrics', () =>
    withSimulator({ ...llamacpp, metrics: true }, async (sim) => {
      await postJson(sim, '/v1/chat/completions', chatBody('x [[sim:answer one two]]'));
      const text = await (await fetch(`${sim.url}/metrics`)).text();
      expect(text).toContain('# TYPE llamacpp:prompt_tokens_total counter');
      expect(await metric(sim, 'tokens_predicted_total')).toBeGreaterThan(0);
      expect(await metric(sim, 'n_decode_total')).toBeGreaterThan(0);
    }));

  it("ends the stream with llama.cpp's error event on error-after, without [DONE]", () =>
    withSimulator({ ...llamacpp, faults: true }, async (sim) => {
      const res = await post(sim, '/v1/chat/completions', { ...chatBody('[[sim:answer one two three four]]'), stream: true }, { [FAULT_HEADER]: 'error-after=1' });
      expect(res.status).toBe(200);
      const events = (await res.text()).split('\n\n').filter(Boolean);
      expect(events.at(-1)).toBe('data: {"error":{"code":500,"message":"simulated engine failure","type":"server_error"}}');
      expect(events).not.toContain('data: [DONE]');
    }));
});

describe("personality 'llamacpp': refusals", () => {
  it('refuses a request too big for the KV cache without holding a slot', () =>
    withSimulator({ ...llamacpp, parallel: 1, kvCapacityTokens: 1024 }, async (sim) => {
      const big = await postJson(sim, '/v1/chat/completions', { messages: [{ role: 'user', content: LONG_SYSTEM.repeat(3) }], max_tokens: 10 });
      expect(big.status).toBe(400);
      expect(big.json.error.type).toBe('invalid_request_error');
      expect((await slots(sim))[0].is_processing).toBe(false);
      expect((await postJson(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]'))).status).toBe(200);
    }));
});
