// Pieces several personalities share: FastAPI's fixed answers, Python's json.dumps spacing (vLLM and
// SGLang write their stream errors with it), and the Prometheus endpoint.
import type { ServerResponse } from 'node:http';
import { sendJson } from '../exchange.js';
import type { SimulatorError } from '../errors.js';

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
