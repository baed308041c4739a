// Engine profiles: the numbers that make the simulator behave like one model on one GPU.
// Latency coefficients are in milliseconds; latency.ts turns them into step durations.

export interface LatencyCoefficients {
  /** Fixed cost of a step that runs any prefill (kernel launches, scheduling, sampling). */
  prefillFixedMs: number;
  /** Linear prefill cost per token (the inverse of the prefill throughput). */
  prefillMsPerToken: number;
  /** Quadratic attention term: a chunk covering context [s, s+n) costs c·((s+n)² − s²). */
  prefillMsPerTokenSquared: number;
  /** Time per output token at batch B: decodeBaseMs + decodeMsPerSequence · B. */
  decodeBaseMs: number;
  decodeMsPerSequence: number;
}

export interface EngineProfile {
  name: string;
  /** Names the server answers to in `model` (vLLM's --served-model-name). */
  servedModels: string[];
  latency: LatencyCoefficients;
  /** Most sequences in one running batch (vLLM --max-num-seqs). */
  maxBatch: number;
  /** Tokens one step may process, decode and chunked prefill together (--max-num-batched-tokens). */
  stepTokenBudget: number;
  /** KV cache size in tokens (what vLLM logs as "GPU KV cache size: N tokens"). */
  kvCapacityTokens: number;
  blockSize: number;
  /** Context window; requests beyond it get vLLM's 400. */
  maxModelLen: number;
}

// Qwen3-8B on one H100 (vLLM, bf16). Fitted by weighted least squares to the published points:
// TTFT(batch 1) 14.2 ms @128, 34.3 ms @1,024, 61.3 ms @2,048, 253.9 ms @8,192 prompt tokens
// → 11.3 ms + P/45.4k tok/s + 9.35e-7 ms·P² (every point within 2%);
// TPOT 6.9 ms @1, 12.3 ms @128, 18.6 ms @256 → 6.81 + 0.0449·B ms (within 2.1%).
// KV: 36 layers × 8 KV heads × 128 dims × 2 (K,V) × 2 bytes = 144 KiB per token; 0.9 × 80 GB
// minus ~16 GB of weights and activation headroom leaves ≈ 50 GB → ~350k tokens.
const qwen3_8b: EngineProfile = {
  name: 'qwen3-8b-h100',
  servedModels: ['Qwen/Qwen3-8B'],
  latency: {
    prefillFixedMs: 11.32,
    prefillMsPerToken: 0.02202,
    prefillMsPerTokenSquared: 9.349e-7,
    decodeBaseMs: 6.814,
    decodeMsPerSequence: 0.04488,
  },
  maxBatch: 256,
  stepTokenBudget: 8192,
  kvCapacityTokens: 350_000,
  blockSize: 16,
  maxModelLen: 40_960,
};

// Qwen3-4B: same KV shape per token (36 layers, 8 KV heads) but half the weights, so more room
// for KV; prefill ~1.7× faster; TPOT ~4.2 ms at batch 1, the batch slope scaled by the same ratio.
const PREFILL_SPEEDUP_4B = 1.7;
const DECODE_RATIO_4B = 4.2 / 6.9;
const qwen3_4b: EngineProfile = {
  ...qwen3_8b,
  name: 'qwen3-4b-h100',
  servedModels: ['Qwen/Qwen3-4B'],
  latency: {
    prefillFixedMs: qwen3_8b.latency.prefillFixedMs / PREFILL_SPEEDUP_4B,
    prefillMsPerToken: qwen3_8b.latency.prefillMsPerToken / PREFILL_SPEEDUP_4B,
    prefillMsPerTokenSquared: qwen3_8b.latency.prefillMsPerTokenSquared / PREFILL_SPEEDUP_4B,
    decodeBaseMs: qwen3_8b.latency.decodeBaseMs * DECODE_RATIO_4B,
    decodeMsPerSequence: qwen3_8b.latency.decodeMsPerSequence * DECODE_RATIO_4B,
  },
  kvCapacityTokens: 400_000,
};

// Zero delays: completes as fast as the event loop allows (tests, gateway benchmarks).
const instant: EngineProfile = {
  ...qwen3_8b,
  name: 'instant',
  servedModels: ['sim-instant'],
  latency: {
    prefillFixedMs: 0,
    prefillMsPerToken: 0,
    prefillMsPerTokenSquared: 0,
    decodeBaseMs: 0,
    decodeMsPerSequence: 0,
  },
};

const PROFILES: ReadonlyMap<string, EngineProfile> = new Map(
  [qwen3_8b, qwen3_4b, instant].map((profile) => [profile.name, profile]),
);

export const DEFAULT_PROFILE = 'qwen3-8b-h100';

export function profileNames(): string[] {
  return [...PROFILES.keys()];
}

/** A copy of the named profile with overrides applied; throws on an unknown name. */
export function resolveProfile(name: string, overrides: Partial<EngineProfile> = {}): EngineProfile {
  const base = PROFILES.get(name);
  if (!base) throw new Error(`unknown simulator profile "${name}" (known: ${profileNames().join(', ')})`);
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, latency: { ...base.latency }, servedModels: [...base.servedModels], ...defined };
}
