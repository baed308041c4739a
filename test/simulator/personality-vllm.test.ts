import { describe, expect, it } from 'vitest';
import { FAULT_HEADER, PREFIX_CACHE_RESET_HEADER, type RunningSimulator } from '../../simulator/index.js';
import { chatBody, LONG_SYSTEM, post, postJson, settleOrder, sseData, waitFor, withSimulator } from './helpers.js';

const withPrefix = (question: string) => ({ messages: [{ role: 'system', content: LONG_SYSTEM }, { role: 'user', content: `${question} [[sim:answer ok]]` }] });

async function usageOf(sim: RunningSimulator, body: Record<string, unknown>): Promise<any> {
  const { status, json } = await postJson(sim, '/v1/chat/completions', body);
  expect(status).toBe(200);
  return json.usage;
}

describe("personality 'vllm'", () => {
  it('omits prompt_tokens_details without --enable-prompt-tokens-details (null in the body, absent from the streamed usage chunk)', () =>
    withSimulator({ profile: 'instant', personality: 'vllm' }, async (sim) => {
      await usageOf(sim, withPrefix('first'));
      const usage = await usageOf(sim, withPrefix('second'));
      expect(usage.prompt_tokens_details).toBeNull();
      const streamed = await post(sim, '/v1/chat/completions', { ...withPrefix('third'), stream: true, stream_options: { include_usage: true } });
      const chunk = sseData(await streamed.text()).find((c) => c !== '[DONE]' && c.usage);
      expect(Object.keys(chunk.usage).sort()).toEqual(['completion_tokens', 'prompt_tokens', 'total_tokens']);
      const responses = await postJson(sim, '/v1/responses', { input: 'x [[sim:answer ok]]', instructions: LONG_SYSTEM });
      expect(responses.json.usage.input_tokens_details).toEqual({ cached_tokens: 0 });
    }));

  it('reports cached_tokens with --enable-prompt-tokens-details, only when something was cached', () =>
    withSimulator({ profile: 'instant', personality: 'vllm', enablePromptTokensDetails: true }, async (sim) => {
      expect((await usageOf(sim, withPrefix('first'))).prompt_tokens_details).toBeNull();
      expect((await usageOf(sim, withPrefix('second'))).prompt_tokens_details.cached_tokens).toBeGreaterThan(500);
      const streamed = await post(sim, '/v1/completions', { prompt: 'never seen before', max_tokens: 2, stream: true, stream_options: { include_usage: true } });
      const chunk = sseData(await streamed.text()).find((c) => c !== '[DONE]' && c.usage);
      expect(chunk.usage).not.toHaveProperty('prompt_tokens_details');
    }));

  it('has no /flush_cache or /v1/sessions, and /reset_prefix_cache only in dev mode', async () => {
    await withSimulator({ profile: 'instant', personality: 'vllm' }, async (sim) => {
      for (const path of ['/flush_cache', '/reset_prefix_cache', '/v1/sessions/run-1/flush']) {
        const res = await post(sim, path, '');
        expect(res.status, path).toBe(404);
        expect(await res.json()).toEqual({ detail: 'Not Found' });
      }
    });
    await withSimulator({ profile: 'instant', personality: 'vllm', devMode: true }, async (sim) => {
      await usageOf(sim, withPrefix('warm'));
      const res = await post(sim, '/reset_prefix_cache', '');
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
      expect(res.headers.get(PREFIX_CACHE_RESET_HEADER)).toBe('true');
    });
  });

  it("refuses a priority unless --scheduling-policy priority, with vLLM's message", () =>
    withSimulator({ profile: 'instant', personality: 'vllm' }, async (sim) => {
      const refused = await postJson(sim, '/v1/chat/completions', chatBody('x', { priority: 5 }));
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatchObject({ message: 'Got priority 5 but Priority scheduling is not enabled.', type: 'BadRequestError', code: 400 });
      expect((await postJson(sim, '/v1/chat/completions', chatBody('x [[sim:answer ok]]', { priority: 0 }))).status).toBe(200);
    }));

  it('serves the lower priority value first under --scheduling-policy priority', () =>
    withSimulator({ profile: 'instant', personality: 'vllm', schedulingPolicy: 'priority', profileOverrides: { maxBatch: 1 } }, async (sim) => {
      sim.engine.pause();
      const { track, order } = settleOrder();
      const late = track('priority 10', postJson(sim, '/v1/chat/completions', chatBody('a [[sim:answer a]]', { priority: 10 })));
      const early = track('priority 1', postJson(sim, '/v1/chat/completions', chatBody('b [[sim:answer b]]', { priority: 1 })));
      await waitFor(() => sim.engine.stats().waiting === 2, 'both requests to queue');
      sim.engine.resume();
      await Promise.all([late, early]);
      expect(order).toEqual(['priority 1', 'priority 10']);
    }));

  it("writes vLLM's error event inside the 200 stream on error-after, then [DONE]", () =>
    withSimulator({ profile: 'instant', personality: 'vllm', faults: true }, async (sim) => {
      const res = await post(sim, '/v1/chat/completions', { ...chatBody('[[sim:answer one two three four five]]'), stream: true }, { [FAULT_HEADER]: 'error-after=2' });
      expect(res.status).toBe(200);
      const text = await res.text();
      const events = text.split('\n\n').filter(Boolean);
      expect(events.at(-2)).toBe('data: {"error": {"message": "simulated engine failure", "type": "InternalServerError", "param": null, "code": 500}}');
      expect(events.at(-1)).toBe('data: [DONE]');
      const content = sseData(text).filter((c) => c !== '[DONE]' && c.choices?.[0]?.delta?.content);
      expect(content).toHaveLength(2);
    }));
});
