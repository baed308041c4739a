// The latency model, as pure functions of a profile's coefficients (see profiles.ts for the fit).
// The engine loop sums these per step; tests check them on the calibration points.
import type { LatencyCoefficients } from './profiles.js';

/** Variable cost of prefilling `tokens` tokens whose context starts at `start` (cached or earlier chunks). */
export function prefillChunkMs(latency: LatencyCoefficients, start: number, tokens: number): number {
  if (tokens <= 0) return 0;
  const end = start + tokens;
  // Attention over the whole context so far: a chunk late in a long prompt costs more than an early one.
  return tokens * latency.prefillMsPerToken + latency.prefillMsPerTokenSquared * (end * end - start * start);
}

/** Time per output token with `batch` sequences decoding together. */
export function tpotMs(latency: LatencyCoefficients, batch: number): number {
  return batch > 0 ? latency.decodeBaseMs + latency.decodeMsPerSequence * batch : 0;
}

/**
 * Duration of one engine step: the chunked prefill work it carries (`prefillVariableMs`, a sum of
 * prefillChunkMs) plus one decode token for each of `decodeBatch` sequences. A mixed step costs
 * roughly both, which is the inter-token-latency spike chunked prefill is known for.
 */
export function stepMs(latency: LatencyCoefficients, hasPrefill: boolean, prefillVariableMs: number, decodeBatch: number): number {
  const prefill = hasPrefill ? latency.prefillFixedMs + prefillVariableMs : 0;
  return prefill + tpotMs(latency, decodeBatch);
}

/**
 * Time to first token of a lone request (nothing else in flight): its prompt, minus cached tokens,
 * prefilled in chunks of at most `stepTokenBudget` tokens, one step each.
 */
export function ttftMs(latency: LatencyCoefficients, promptTokens: number, cachedTokens = 0, stepTokenBudget = Infinity): number {
  let total = 0;
  for (let start = cachedTokens; start < promptTokens; start += stepTokenBudget) {
    const tokens = Math.min(stepTokenBudget, promptTokens - start);
    total += stepMs(latency, true, prefillChunkMs(latency, start, tokens), 0);
  }
  return total;
}
