import type { Pool } from 'undici';

// One streamed chat completion through the gateway, timed on the client: time to the first chunk
// that carries content (the simulator, like vLLM, sends a role chunk first), time to the end, the
// usage of the final chunk (prompt and cached tokens) and the gateway's X-Orla-Cache verdict.

export interface StreamResult {
  status: number;
  /** Milliseconds from sending to the first non-empty content delta (wall clock). */
  ttftMs: number;
  e2eMs: number;
  /** The generated text, when `collectText` was asked for. */
  text: string;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  /** X-Orla-Cache: decision; reason; replica=new|hit|moved. */
  cache: string | undefined;
  /** X-Orla-Overhead-Ms: wall time spent in the gateway itself. */
  overheadMs: number;
  error?: string;
}

interface Chunk {
  choices?: { delta?: { content?: string | null } }[];
  usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } | null } | null;
  error?: { message?: string };
}

export async function streamChat(
  pool: Pool,
  body: Record<string, unknown>,
  headers: Record<string, string>,
  collectText = false,
): Promise<StreamResult> {
  const t0 = performance.now();
  const res = await pool.request({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
  });
  const header = res.headers['x-orla-cache'];
  const result: StreamResult = {
    status: res.statusCode,
    ttftMs: NaN,
    e2eMs: NaN,
    text: '',
    promptTokens: 0,
    cachedTokens: 0,
    completionTokens: 0,
    cache: Array.isArray(header) ? header[0] : header,
    overheadMs: Number(res.headers['x-orla-overhead-ms'] ?? NaN),
  };
  if (res.statusCode !== 200) {
    result.error = `status ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`;
    result.e2eMs = performance.now() - t0;
    return result;
  }
  const parts: string[] = [];
  let pending = '';
  let first: number | undefined;
  res.body.setEncoding('utf8');
  for await (const data of res.body as AsyncIterable<string>) {
    pending += data;
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      // Parse only what is needed: every chunk until the first content (and all of them for the
      // text), then just the usage chunk; at hundreds of streams a JSON.parse per token adds up.
      if (first !== undefined && !collectText && !event.includes('"usage"') && !event.includes('"error"')) continue;
      const chunk = JSON.parse(event.slice(6)) as Chunk;
      const content = chunk.choices?.[0]?.delta?.content;
      if (content) {
        first ??= performance.now();
        if (collectText) parts.push(content);
      }
      if (chunk.usage) {
        result.promptTokens = chunk.usage.prompt_tokens;
        result.completionTokens = chunk.usage.completion_tokens;
        result.cachedTokens = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
      }
      if (chunk.error) result.error = chunk.error.message ?? 'stream error';
    }
  }
  const end = performance.now();
  result.e2eMs = end - t0;
  result.ttftMs = (first ?? end) - t0;
  result.text = parts.join('');
  return result;
}
