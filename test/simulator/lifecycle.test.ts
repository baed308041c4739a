import { describe, expect, it } from 'vitest';
import { FAULT_HEADER, startSimulator } from '../../simulator/index.js';
import { post, postJson, userTurn, waitFor, withSimulator } from './helpers.js';

const longGeneration = (stream: boolean) => ({ messages: [userTurn('write a novel')], max_tokens: 20_000, ignore_eos: true, stream });

describe('client disconnects', () => {
  it('a streaming client that leaves aborts its running request and frees its blocks', () =>
    withSimulator({ profile: 'qwen3-8b-h100' }, async (sim) => {
      const controller = new AbortController();
      const res = await post(sim, '/v1/chat/completions', longGeneration(true), {}, controller.signal);
      await res.body!.getReader().read();
      expect(sim.engine.stats().running).toBe(1);
      controller.abort();
      await waitFor(() => sim.engine.stats().running === 0, 'the request to be aborted');
      expect(sim.engine.stats().usage).toBe(0);
    }));

  it('a non-streaming client that leaves aborts its running request', () =>
    withSimulator({ profile: 'qwen3-8b-h100' }, async (sim) => {
      const controller = new AbortController();
      const pending = post(sim, '/v1/chat/completions', longGeneration(false), {}, controller.signal).catch(() => 'aborted');
      await waitFor(() => sim.engine.stats().running === 1, 'the request to run');
      controller.abort();
      expect(await pending).toBe('aborted');
      await waitFor(() => sim.engine.stats().running === 0, 'the request to be aborted');
    }));

  it('a queued request whose client leaves never reaches the batch', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      sim.engine.pause();
      const controller = new AbortController();
      const pending = post(sim, '/v1/chat/completions', { messages: [userTurn('hi')] }, {}, controller.signal).catch(() => 'aborted');
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to queue');
      controller.abort();
      await waitFor(() => sim.engine.stats().waiting === 0, 'the request to leave the queue');
      sim.engine.resume();
      expect(await pending).toBe('aborted');
      expect(sim.engine.stats().promptTokens).toBe(0);
    }));
});

describe('instant profile', () => {
  it('keeps answering other requests while it generates flat out', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      sim.engine.pause();
      const load = Array.from({ length: 10 }, (_, i) => postJson(sim, '/v1/chat/completions', { messages: [userTurn(`job ${i}`)], max_tokens: 20_000, ignore_eos: true }));
      await waitFor(() => sim.engine.stats().waiting === 10, 'the jobs to queue');
      sim.engine.resume();
      expect((await fetch(`${sim.url}/health`)).status).toBe(200);
      expect(sim.engine.stats().running).toBeGreaterThan(0);
      const results = await Promise.all(load);
      expect(results.every((r) => r.json.usage.completion_tokens === 20_000)).toBe(true);
    }));
});

describe('priority', () => {
  it('serves the waiting queue by the body\'s priority, higher first', () =>
    withSimulator({ profile: 'qwen3-8b-h100', profileOverrides: { maxBatch: 1 } }, async (sim) => {
      sim.engine.pause();
      const finished: string[] = [];
      const send = (name: string, priority: number) =>
        postJson(sim, '/v1/chat/completions', { messages: [userTurn(`${name} [[sim:answer ok]]`)], priority }).then(() => finished.push(name));
      const all = [send('low', -1), send('high', 10), send('default', 0)];
      await waitFor(() => sim.engine.stats().waiting === 3, 'all three to queue');
      sim.engine.resume();
      await Promise.all(all);
      expect(finished).toEqual(['high', 'default', 'low']);
    }));
});

describe('close', () => {
  it('ends open connections, hanging ones included, and stops the engine', async () => {
    const sim = await startSimulator({ profile: 'qwen3-8b-h100', faults: true });
    const hanging = post(sim, '/v1/chat/completions', { messages: [userTurn('x')] }, { [FAULT_HEADER]: 'hang' }).catch(() => 'closed');
    const streaming = await post(sim, '/v1/chat/completions', longGeneration(true));
    const reader = streaming.body!.getReader();
    await reader.read();
    await sim.close();
    expect(await hanging).toBe('closed');
    await expect(reader.read().then(async function drain(r): Promise<unknown> {
      return r.done ? r : reader.read().then(drain);
    })).rejects.toThrow();
    expect(sim.engine.active).toBe(false);
    expect(sim.engine.stats().running).toBe(0);
  });
});
