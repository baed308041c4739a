import { describe, expect, it } from 'vitest';
import { PREFIX_CACHE_RESET_HEADER, SESSION_HEADER, type RunningSimulator } from '../../simulator/index.js';
import { LONG_SYSTEM, post, postJson, userTurn, waitFor, withSimulator } from './helpers.js';

const SGLANG_FLUSH_TEXT =
  'Cache flushed.\nPlease check backend logs for more details. (When there are running or waiting requests, the operation will not be performed.)\n';

const conversation = (system: string, question: string) => [{ role: 'system', content: system }, userTurn(`${question} [[sim:answer ok]]`)];

async function cachedTokens(sim: RunningSimulator, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<number> {
  const { status, json } = await postJson(sim, '/v1/chat/completions', body, headers);
  expect(status).toBe(200);
  return json.usage.prompt_tokens_details.cached_tokens;
}

describe('prefix caching over HTTP', () => {
  it('reports a shared long prefix as cached tokens, in full blocks', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      expect(await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'first') })).toBe(0);
      const cached = await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'second, different question') });
      expect(cached).toBeGreaterThan(500);
      expect(cached % 16).toBe(0);
    }));

  it('shares nothing between different cache salts', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'a'), cache_salt: 'tenant-a' });
      expect(await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'b'), cache_salt: 'tenant-b' })).toBe(0);
      expect(await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'c') })).toBe(0);
      expect(await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'd'), cache_salt: 'tenant-a' })).toBeGreaterThan(500);
    }));

  it('evicts the least recently used prefix when the cache is full', () =>
    withSimulator({ profile: 'instant', kvCapacityTokens: 2400 }, async (sim) => {
      const prefix = (name: string) => `${name}: ${LONG_SYSTEM}`;
      const full = async (name: string) => cachedTokens(sim, { messages: conversation(prefix(name), 'q') });
      await full('A');
      const warmA = await full('A');
      await full('B');
      await full('C'); // A is the least recently used: C takes its blocks
      expect(await full('B')).toBe(warmA);
      const afterEviction = await full('A');
      expect(afterEviction).toBeLessThan(warmA);
      expect(sim.engine.stats().residentBlocks).toBeLessThanOrEqual(2400 / 16);
    }));
});

describe('cache controls', () => {
  it('refuses /flush_cache with SGLang\'s 400 while a request waits or runs, and flushes once idle', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      const messages = conversation(LONG_SYSTEM, 'flush me');
      await cachedTokens(sim, { messages });
      sim.engine.pause();
      const inFlight = post(sim, '/v1/chat/completions', { messages });
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to queue');
      const refused = await post(sim, '/flush_cache', '');
      expect(refused.status).toBe(400);
      expect(await refused.text()).toBe(SGLANG_FLUSH_TEXT);
      sim.engine.resume();
      expect((await (await inFlight).json()).usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);

      const flushed = await post(sim, '/flush_cache', '');
      expect(flushed.status).toBe(200);
      expect(await flushed.text()).toBe(SGLANG_FLUSH_TEXT);
      expect(await cachedTokens(sim, { messages })).toBe(0);
    }));

  it('answers /reset_prefix_cache with an empty 200 like vLLM, resetting only when no request holds blocks', () =>
    withSimulator({ profile: 'qwen3-8b-h100' }, async (sim) => {
      const messages = conversation(LONG_SYSTEM, 'reset me');
      await cachedTokens(sim, { messages, max_tokens: 2 });
      // A long generation that certainly runs for the whole check (ignore_eos: tens of seconds).
      const controller = new AbortController();
      const running = await post(sim, '/v1/chat/completions', { messages: conversation('other', 'long'), stream: true, max_tokens: 20_000, ignore_eos: true }, {}, controller.signal);
      const reader = running.body!.getReader();
      await reader.read(); // the role chunk: the request is running and holds blocks
      const refused = await post(sim, '/reset_prefix_cache', '');
      expect(refused.status).toBe(200);
      expect(await refused.text()).toBe('');
      expect(refused.headers.get(PREFIX_CACHE_RESET_HEADER)).toBe('false');
      expect(await cachedTokens(sim, { messages, max_tokens: 2 })).toBeGreaterThan(0);

      controller.abort();
      await waitFor(() => sim.engine.stats().running === 0, 'the aborted request to leave');
      const reset = await post(sim, '/reset_prefix_cache', '');
      expect(reset.status).toBe(200);
      expect(reset.headers.get(PREFIX_CACHE_RESET_HEADER)).toBe('true');
      expect(await cachedTokens(sim, { messages, max_tokens: 2 })).toBe(0);
    }));

  it('flushes for a session only the blocks that session alone holds', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      const own = (who: string) => Array.from({ length: 20 }, (_, i) => `${who} detail ${i}: the order number is ${i * 13}.`).join(' ');
      const turn = (who: string) => ({ messages: [{ role: 'system', content: LONG_SYSTEM }, userTurn(`${own(who)} [[sim:answer ok]]`)] });
      await cachedTokens(sim, turn('alice'), { [SESSION_HEADER]: 'run-a' });
      await cachedTokens(sim, turn('bob'), { [SESSION_HEADER]: 'run-b' });
      const sharedPrefix = await cachedTokens(sim, { messages: [{ role: 'system', content: LONG_SYSTEM }, userTurn('probe [[sim:answer ok]]')] });
      const aliceWarm = await cachedTokens(sim, turn('alice'), { [SESSION_HEADER]: 'run-a' });
      expect(aliceWarm).toBeGreaterThan(sharedPrefix);

      const { status, json } = await postJson(sim, '/v1/sessions/run-a/flush', '');
      expect(status).toBe(200);
      expect(json).toEqual({ session_id: 'run-a', freed_tokens: expect.any(Number) });
      expect(json.freed_tokens).toBeGreaterThan(0);
      expect(json.freed_tokens % 16).toBe(0);
      // Alice's own turn is gone, the prefix both sessions used stays, Bob's turn stays.
      expect(await cachedTokens(sim, turn('alice'), { [SESSION_HEADER]: 'run-a' })).toBe(sharedPrefix);
      expect(await cachedTokens(sim, turn('bob'), { [SESSION_HEADER]: 'run-b' })).toBeGreaterThan(sharedPrefix);
      expect((await postJson(sim, '/v1/sessions/nobody/flush', '')).json).toEqual({ session_id: 'nobody', freed_tokens: 0 });
    }));
});

describe('metrics', () => {
  it('exposes vLLM\'s metric names with the model_name label', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'one') });
      await cachedTokens(sim, { messages: conversation(LONG_SYSTEM, 'two') });
      const res = await fetch(`${sim.url}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      const value = (name: string) => Number(new RegExp(`^${name}\\{model_name="sim-instant",engine="0"\\} (\\S+)$`, 'm').exec(text)?.[1]);
      expect(value('vllm:kv_cache_usage_perc')).toBe(0);
      expect(value('vllm:num_requests_running')).toBe(0);
      expect(value('vllm:num_requests_waiting')).toBe(0);
      expect(value('vllm:prefix_cache_queries_total')).toBeGreaterThan(value('vllm:prefix_cache_hits_total'));
      expect(value('vllm:prefix_cache_hits_total')).toBeGreaterThan(500);
      expect(value('vllm:prompt_tokens_total')).toBe(value('vllm:prefix_cache_queries_total'));
      expect(value('vllm:generation_tokens_total')).toBe(4); // "ok" + <|im_end|>, twice
      expect(value('vllm:time_to_first_token_seconds_count')).toBe(2);
      expect(text).toContain('# TYPE vllm:time_to_first_token_seconds histogram');
    }));

  it('counts a waiting request while it waits', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      sim.engine.pause();
      const pending = post(sim, '/v1/chat/completions', { messages: conversation(LONG_SYSTEM, 'queued') });
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to queue');
      const text = await (await fetch(`${sim.url}/metrics`)).text();
      expect(text).toMatch(/^vllm:num_requests_waiting\{[^}]*\} 1$/m);
      sim.engine.resume();
      await pending;
    }));
});
