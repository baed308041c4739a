import { describe, expect, it } from 'vitest';
import { Engine, EngineRejection, type GenerationRequest, type GenerationResult } from '../../simulator/engine.js';
import { prefillChunkMs, stepMs, tpotMs, ttftMs } from '../../simulator/latency.js';
import { resolveProfile, type EngineProfile } from '../../simulator/profiles.js';
import { waitFor } from './helpers.js';
import { within } from '../helpers/wait.js';

const tokens = (n: number, seed = 1) => Uint32Array.from({ length: n }, (_, i) => (i * 2654435761 + seed * 97) >>> 0);

/** Submits a request and resolves with its result (failing, with a bound, if the engine never finishes it). */
function generate(engine: Engine, prompt: Uint32Array, outputTokens: number, extra: Partial<GenerationRequest> = {}): Promise<GenerationResult> {
  return within(
    new Promise((resolve) => {
      engine.submit({ promptTokenIds: prompt, outputTokenIds: tokens(outputTokens, 99), finishReason: 'stop', ...extra, onDone: resolve });
    }),
    'the engine to finish the request',
  );
}

function engineFor(name: string, overrides: Partial<EngineProfile> = {}, speed = 1000): Engine {
  return new Engine({ profile: resolveProfile(name, overrides), speed });
}

describe('engine', () => {
  it('admits waiting requests by priority, higher first, then by arrival', async () => {
    const engine = engineFor('instant', { maxBatch: 1 });
    engine.pause();
    const finished: string[] = [];
    const submit = (name: string, priority: number) =>
      generate(engine, tokens(40, name.charCodeAt(0)), 3, { priority }).then(() => finished.push(name));
    const all = [submit('A', 0), submit('B', 5), submit('C', 1), submit('D', 5)];
    expect(engine.stats().waiting).toBe(4);
    engine.resume();
    await Promise.all(all);
    expect(finished).toEqual(['B', 'D', 'C', 'A']);
    engine.close();
  });

  it('times a lone request on the virtual clock: TTFT of its prompt, then one TPOT per token', async () => {
    const engine = engineFor('qwen3-8b-h100');
    const { latency } = engine.profile;
    let ttftSeconds = -1;
    engine.observer.firstToken = (seconds) => (ttftSeconds = seconds);
    const result = await generate(engine, tokens(1024), 20);
    expect(result).toMatchObject({ promptTokens: 1024, completionTokens: 20, cachedTokens: 0, finishReason: 'stop' });
    expect(ttftSeconds * 1000).toBeCloseTo(ttftMs(latency, 1024), 6);
    expect(engine.simulatedSeconds * 1000).toBeCloseTo(ttftMs(latency, 1024) + 19 * tpotMs(latency, 1), 6);
    engine.close();
  });

  it('prefills a prompt longer than the step budget in chunks', async () => {
    const engine = engineFor('qwen3-8b-h100');
    let ttftSeconds = -1;
    engine.observer.firstToken = (seconds) => (ttftSeconds = seconds);
    await generate(engine, tokens(20_000), 1);
    expect(ttftSeconds * 1000).toBeCloseTo(ttftMs(engine.profile.latency, 20_000, 0, 8192), 6);
    engine.close();
  });

  it('batches concurrent requests: one prefill step for both, then decode steps at batch 2', async () => {
    const engine = engineFor('qwen3-8b-h100');
    const { latency } = engine.profile;
    await Promise.all([generate(engine, tokens(128, 1), 10), generate(engine, tokens(128, 2), 10)]);
    const prefill = stepMs(latency, true, 2 * prefillChunkMs(latency, 0, 128), 0);
    expect(engine.simulatedSeconds * 1000).toBeCloseTo(prefill + 9 * tpotMs(latency, 2), 6);
    engine.close();
  });

  it('serves a repeated prefix from the cache: cached tokens in full blocks and a shorter TTFT', async () => {
    const engine = engineFor('qwen3-8b-h100');
    const ttfts: number[] = [];
    engine.observer.firstToken = (seconds) => ttfts.push(seconds);
    const shared = tokens(1000);
    await generate(engine, shared, 5);
    const extended = new Uint32Array([...shared, ...tokens(50, 7)]);
    const second = await generate(engine, extended, 5);
    expect(second.cachedTokens).toBe(992);
    expect(ttfts[1]! * 1000).toBeCloseTo(ttftMs(engine.profile.latency, 1050, 992), 6);
    expect(ttfts[1]!).toBeLessThan(ttfts[0]! / 2);
    engine.close();
  });

  it('caches generated tokens too, so the next turn of a conversation hits them', async () => {
    const engine = engineFor('instant');
    const prompt = tokens(100);
    const output = tokens(60, 5);
    await within(new Promise<void>((resolve) => engine.submit({ promptTokenIds: prompt, outputTokenIds: output, finishReason: 'stop', onDone: () => resolve() })), 'the first turn to finish');
    const nextTurn = new Uint32Array([...prompt, ...output, ...tokens(30, 6)]);
    expect((await generate(engine, nextTurn, 1)).cachedTokens).toBe(144); // 9 blocks: 159 computed tokens
    engine.close();
  });

  it('drops an aborted request from the queue or the batch and frees its blocks', async () => {
    const engine = engineFor('instant', { maxBatch: 1 });
    engine.pause();
    const controller = new AbortController();
    const queued = generate(engine, tokens(64, 3), 5, { signal: controller.signal });
    const first = generate(engine, tokens(64, 4), 5, { priority: 1 });
    controller.abort();
    expect(await queued).toMatchObject({ finishReason: 'abort', completionTokens: 0 });
    expect(engine.stats().waiting).toBe(1);
    engine.resume();
    await first;

    const slow = engineFor('qwen3-8b-h100', {}, 1);
    let handle: { abort(): void } | undefined;
    const running = new Promise<GenerationResult>((resolve) => {
      handle = slow.submit({ promptTokenIds: tokens(256), outputTokenIds: tokens(10_000), finishReason: 'stop', onFirstToken: () => handle?.abort(), onDone: resolve });
    });
    expect(await within(running, 'the aborted request to finish')).toMatchObject({ finishReason: 'abort', completionTokens: 1 });
    expect(slow.stats()).toMatchObject({ running: 0, usage: 0 });
    engine.close();
    slow.close();
  });

  it('keeps the head of the queue waiting until the KV cache has room for it', async () => {
    const engine = engineFor('instant', { kvCapacityTokens: 160 }); // 10 blocks
    let maxRunning = 0;
    const track = () => (maxRunning = Math.max(maxRunning, engine.stats().running));
    const results = await Promise.all([
      generate(engine, tokens(100, 1), 20, { onToken: track }),
      generate(engine, tokens(100, 2), 20, { onToken: track }),
    ]);
    expect(results.map((r) => r.finishReason)).toEqual(['stop', 'stop']);
    expect(maxRunning).toBe(1);
    engine.close();
  });

  it('rejects a request that could never fit in the KV cache', () => {
    const engine = engineFor('instant', { kvCapacityTokens: 160 });
    expect(() => engine.submit({ promptTokenIds: tokens(200), outputTokenIds: tokens(1), finishReason: 'stop' })).toThrow(EngineRejection);
    engine.close();
  });

  it('runs no timer once idle', async () => {
    const engine = engineFor('qwen3-8b-h100');
    await generate(engine, tokens(300), 4);
    await waitFor(() => !engine.active, 'the engine to go idle');
    expect(engine.stats()).toMatchObject({ running: 0, waiting: 0, usage: 0 });
    engine.close();
  });
});
