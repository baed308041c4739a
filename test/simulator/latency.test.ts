import { describe, expect, it } from 'vitest';
import { prefillChunkMs, stepMs, tpotMs, ttftMs } from '../../simulator/latency.js';
import { resolveProfile } from '../../simulator/profiles.js';

const qwen8b = resolveProfile('qwen3-8b-h100');
const qwen4b = resolveProfile('qwen3-4b-h100');
const within = (actual: number, expected: number, tolerance = 0.15) => expect(Math.abs(actual - expected) / expected).toBeLessThanOrEqual(tolerance);

describe('latency model', () => {
  it('matches the published vLLM TTFT of Qwen3-8B on one H100 at one request in flight', () => {
    const published: [number, number][] = [[128, 14.2], [1024, 34.3], [2048, 61.3], [8192, 253.9]];
    for (const [promptTokens, ms] of published) within(ttftMs(qwen8b.latency, promptTokens, 0, qwen8b.stepTokenBudget), ms);
  });

  it('matches the published time per output token of Qwen3-8B at batch 1, 128 and 256', () => {
    const published: [number, number][] = [[1, 6.9], [128, 12.3], [256, 18.6]];
    for (const [batch, ms] of published) within(tpotMs(qwen8b.latency, batch), ms);
  });

  it('makes Qwen3-4B prefill about 1.7x faster and decode about 4.2 ms per token at batch 1', () => {
    within(ttftMs(qwen8b.latency, 2048) / ttftMs(qwen4b.latency, 2048), 1.7);
    within(tpotMs(qwen4b.latency, 1), 4.2);
    within(tpotMs(qwen8b.latency, 256) / tpotMs(qwen4b.latency, 256), 6.9 / 4.2);
  });

  it('costs nothing on the instant profile', () => {
    const instant = resolveProfile('instant').latency;
    expect(ttftMs(instant, 8192)).toBe(0);
    expect(tpotMs(instant, 256)).toBe(0);
  });

  it('charges cached prefix tokens only for the attention the new tokens pay over them', () => {
    const cold = ttftMs(qwen8b.latency, 4096);
    const warm = ttftMs(qwen8b.latency, 4096, 3072);
    expect(warm).toBeLessThan(cold / 2);
    expect(warm).toBeGreaterThan(ttftMs(qwen8b.latency, 1024));
  });

  it('splits a prompt longer than the step budget into chunks whose costs add up to the whole', () => {
    const { latency } = qwen8b;
    const chunked = ttftMs(latency, 12_000, 0, 8192);
    const expected = stepMs(latency, true, prefillChunkMs(latency, 0, 8192), 0) + stepMs(latency, true, prefillChunkMs(latency, 8192, 12_000 - 8192), 0);
    expect(chunked).toBeCloseTo(expected, 9);
    // One extra fixed step cost compared with an unchunked prefill of the same prompt.
    expect(chunked - ttftMs(latency, 12_000)).toBeCloseTo(latency.prefillFixedMs, 9);
  });

  it('adds the decode batch cost to a step that also prefills', () => {
    const { latency } = qwen8b;
    expect(stepMs(latency, true, 5, 64)).toBeCloseTo(latency.prefillFixedMs + 5 + tpotMs(latency, 64), 9);
    expect(stepMs(latency, false, 0, 0)).toBe(0);
  });
});
