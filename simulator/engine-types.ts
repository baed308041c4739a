import type { CacheStats, PinSet } from './kvcache.js';
import type { EngineProfile } from './profiles.js';

// What the simulated engine (engine.ts) takes and gives.

export interface GenerationRequest {
  promptTokenIds: Uint32Array;
  /** The tokens to generate, in order; the engine emits one per step once prefill is done. */
  outputTokenIds: Uint32Array;
  /** Reported when every output token has been generated. */
  finishReason: string;
  /** Higher is admitted first; ties go by arrival. */
  priority?: number;
  /** Seeds the prefix-cache hash chain: requests with different salts share no blocks. */
  cacheSalt?: string;
  /** Who the KV blocks belong to, for the narrow per-session flush. */
  sessionId?: string;
  /** Keeps the request's blocks resident in this set once it finishes (an SGLang session's KV). */
  pin?: PinSet;
  signal?: AbortSignal;
  onFirstToken?(): void;
  /** Output token `index` (0-based) was generated. */
  onToken?(index: number): void;
  onDone?(result: GenerationResult): void;
}

export interface GenerationResult {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** The request's finishReason, or 'abort'. */
  finishReason: string;
  /** Simulated seconds from arrival to the first token (0 if none came), and from it to the end. */
  promptSeconds: number;
  decodeSeconds: number;
}

export interface GenerationHandle {
  abort(): void;
}

export interface EngineObserver {
  /** Simulated seconds from arrival to first token. */
  firstToken?(ttftSeconds: number): void;
}

export interface EngineStats extends CacheStats {
  running: number;
  waiting: number;
  /** Engine steps run (llama.cpp's n_decode_total). */
  steps: number;
  promptTokens: number;
  generationTokens: number;
}

export interface EngineOptions {
  profile: EngineProfile;
  /** Simulated seconds per wall second (default 1). */
  speed?: number;
}
