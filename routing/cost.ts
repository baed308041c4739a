// What a completion costs, from the token counts the engine reported and the backend's declared
// prices (USD per million tokens). Pure arithmetic: the gateway adds it up per backend, stage and run.

/** Token counts of one completion (the gateway's `Usage` has this shape). */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens the engine served from its prefix cache; part of promptTokens. */
  cachedTokens: number;
}

/** A backend's `price` in the config. */
export interface Price {
  input_per_mtok: number;
  /** Cached prompt tokens; absent: they cost as much as other input tokens. */
  cached_input_per_mtok?: number | undefined;
  output_per_mtok: number;
}

const PER_TOKEN = 1e-6;

/** The cost in USD; 0 without a price. Cached tokens are billed at the cached rate, the rest of the prompt at the input rate. */
export function costOf(usage: TokenUsage, price: Price | undefined): number {
  if (!price) return 0;
  // Engines report cached ⊆ prompt; a bogus larger count must not make the uncached part negative.
  const cached = Math.min(Math.max(usage.cachedTokens, 0), usage.promptTokens);
  const uncached = usage.promptTokens - cached;
  const cachedRate = price.cached_input_per_mtok ?? price.input_per_mtok;
  return (uncached * price.input_per_mtok + cached * cachedRate + usage.completionTokens * price.output_per_mtok) * PER_TOKEN;
}

/** `X-Orla-Cost-Usd`: fixed-point, never exponent notation (1e-7 would confuse a spreadsheet). */
export function formatUsd(usd: number): string {
  return usd.toFixed(9);
}
