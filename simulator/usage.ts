// How an engine reports token usage: the one place where the personalities' bodies differ most
// (vLLM omits prompt_tokens_details unless asked, SGLang only with --enable-cache-report, llama.cpp
// always, with its own timings). Built by string concatenation: one call per finished request.
import type { GenerationResult } from './engine.js';

export interface UsageReport {
  /** The `usage` object of a chat or text completion; `streamed` for the final SSE usage chunk. */
  completionUsage(result: GenerationResult, streamed: boolean): string;
  /** Cached prompt tokens in a /v1/responses `input_tokens_details`. */
  responsesCachedTokens(result: GenerationResult): number;
  /** More top-level fields of a completion body or usage chunk (`,"timings":{…}`), or ''. */
  extraFields(result: GenerationResult): string;
}

const counts = (result: GenerationResult): string =>
  `"prompt_tokens":${result.promptTokens},"total_tokens":${result.promptTokens + result.completionTokens},"completion_tokens":${result.completionTokens}`;

/** The simulator's own report: vLLM's shape with prompt_tokens_details always on (what a cache-aware gateway reads). */
export const ALWAYS_CACHED: UsageReport = {
  completionUsage: (result) => `{${counts(result)},"prompt_tokens_details":{"cached_tokens":${result.cachedTokens}}}`,
  responsesCachedTokens: (result) => result.cachedTokens,
  extraFields: () => '',
};

/**
 * vLLM (entrypoints/openai/chat_completion/serving.py, completion/serving.py):
 * `if self.enable_prompt_tokens_details and num_cached_tokens:` sets prompt_tokens_details, so it
 * is absent without --enable-prompt-tokens-details and whenever nothing was cached. The final body
 * is dumped whole (the unset field shows as null); streamed chunks use exclude_unset (no key at all).
 */
export function vllmUsage(promptTokensDetails: boolean): UsageReport {
  return {
    completionUsage(result, streamed) {
      if (promptTokensDetails && result.cachedTokens > 0) return ALWAYS_CACHED.completionUsage(result, streamed);
      return streamed ? `{${counts(result)}}` : `{${counts(result)},"prompt_tokens_details":null}`;
    },
    responsesCachedTokens: (result) => (promptTokensDetails ? result.cachedTokens : 0),
    extraFields: () => '',
  };
}
