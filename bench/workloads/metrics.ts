// Reads a simulator's /metrics (vLLM names): the counters the benchmarks compare per replica.

export interface EngineCounters {
  /** Requests that produced a first token (the TTFT histogram's count). */
  requests: number;
  /** Sum of their TTFTs, simulated seconds (exact, unlike the buckets). */
  ttftSecondsSum: number;
  promptTokens: number;
  generationTokens: number;
  prefixQueries: number;
  prefixHits: number;
}

function value(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export async function engineCounters(url: string): Promise<EngineCounters> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  return {
    requests: value(text, 'vllm:time_to_first_token_seconds_count'),
    ttftSecondsSum: value(text, 'vllm:time_to_first_token_seconds_sum'),
    promptTokens: value(text, 'vllm:prompt_tokens_total'),
    generationTokens: value(text, 'vllm:generation_tokens_total'),
    prefixQueries: value(text, 'vllm:prefix_cache_queries_total'),
    prefixHits: value(text, 'vllm:prefix_cache_hits_total'),
  };
}

export function counterDelta(after: EngineCounters, before: EngineCounters): EngineCounters {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof EngineCounters]])) as unknown as EngineCounters;
}
