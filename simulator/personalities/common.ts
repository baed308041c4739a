// Pieces several personalities share: FastAPI's fixed answers, Python's json.dumps spacing (vLLM and
// SGLang write their stream errors with it), and the Prometheus endpoint.
import type { ServerResponse } from 'node:http';
import { sendJson } from '../exchange.js';
import type { Engine } from '../engine.js';
import type { SimulatorError } from '../errors.js';

// SGLang's exact text (python/sglang/srt/entrypoints/http_server.py), the same whether it flushed
// (200) or refused because requests were running or waiting (400).
export const SGLANG_FLUSH_TEXT =
  'Cache flushed.\nPlease check backend logs for more details. (When there are running or waiting requests, the operation will not be performed.)\n';
/** Extra response header on /reset_prefix_cache: whether the reset happened (vLLM's body does not say). */
export const PREFIX_CACHE_RESET_HEADER = 'x-sim-prefix-cache-reset';

/** FastAPI's answer to an unknown route (vLLM, SGLang). */
export function fastapiNotFound(res: ServerResponse): void {
  sendJson(res, 404, '{"detail":"Not Found"}');
}

/** FastAPI's answer to a known route asked with the wrong method. */
export function fastapiMethodNotAllowed(res: ServerResponse): void {
  sendJson(res, 405, '{"detail":"Method Not Allowed"}');
}

/** Python's `json.dumps(value)`: ", " and ": " separators, non-ASCII escaped (ensure_ascii). */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([key, item]) => `${pythonJson(key)}: ${pythonJson(item)}`)
    .join(', ')}}`;
}

/** vLLM's error body (entrypoints/openai/engine/serving.py create_error_response). */
export function vllmErrorBody(error: SimulatorError): string {
  return JSON.stringify(error);
}

/**
 * vLLM's error inside a 200 chat/completion stream: `data: {create_streaming_error_response}` (an
 * exception in the generator becomes InternalServerError, 500), then `data: [DONE]` as after any stream.
 */
export function vllmStreamError(message: string): string {
  return `data: ${pythonJson({ error: { message, type: 'InternalServerError', param: null, code: 500 } })}\n\ndata: [DONE]\n\n`;
}

export async function serveMetrics(res: ServerResponse, render: () => Promise<string>, contentType: string): Promise<void> {
  try {
    const text = await render();
    res.writeHead(200, { 'content-type': contentType });
    res.end(text);
  } catch (error) {
    console.error('simulator: metrics failed', error);
    if (!res.headersSent) sendJson(res, 500, '{"detail":"Internal Server Error"}');
  }
}

/**
 * vLLM (VLLM_SERVER_DEV_MODE=1) answers 200 with an empty body either way: its API server does not
 * check the result, and the engine only logs "Failed to reset prefix cache because some blocks (N)
 * are not freed yet" when running requests hold blocks.
 */
export function resetPrefixCache(engine: Engine, res: ServerResponse): void {
  const reset = engine.resetPrefixCache();
  res.writeHead(200, { 'content-length': 0, [PREFIX_CACHE_RESET_HEADER]: String(reset) }).end();
}
