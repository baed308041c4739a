import type { HeaderValues } from './platform.js';

// Which headers cross the gateway. Orla's own (`x-orla-*`) never reach the engine; hop-by-hop
// headers never cross at all; the engine's `server` and `date` are the gateway's to set.

const NOT_FORWARDED_UPSTREAM = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'transfer-encoding', 'upgrade',
  'te', 'trailer', 'expect', 'content-length', 'content-type', 'accept-encoding', 'authorization', 'cookie',
  'x-request-id',
]);

const NOT_RETURNED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'server', 'x-request-id']);

export interface SplitHeaders {
  /** `x-orla-*` headers, for the identity. */
  orla: Record<string, string>;
  /** What the engine receives from the client (before the gateway adds its own). */
  forward: Record<string, string>;
}

export function splitRequestHeaders(headers: HeaderValues): SplitHeaders {
  const orla: Record<string, string> = {};
  const forward: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (name.startsWith('x-orla-')) orla[name] = text;
    else if (!NOT_FORWARDED_UPSTREAM.has(name)) forward[name] = text;
  }
  return { orla, forward };
}

/** Adds the engine's headers the client may see to `own` (the gateway's), which win on a clash. */
export function addReturnedHeaders(own: Record<string, string | string[]>, upstream: HeaderValues): Record<string, string | string[]> {
  for (const name in upstream) {
    const value = upstream[name];
    if (value !== undefined && !NOT_RETURNED.has(name) && !(name in own)) own[name] = value;
  }
  return own;
}
