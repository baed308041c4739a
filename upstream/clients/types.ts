import type { OrlaError } from '../../errors.js';
import type { AbortLike } from '../../cancel.js';

// The one seam between the runtime-agnostic core and the network. Node uses undici pools
// (undici.ts); other runtimes use fetch (fetch.ts).

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortLike | undefined;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Chunks as they arrive; iterate it fully, `readAll()` it, or `cancel()` it. */
  body: AsyncIterable<Uint8Array>;
  /** The whole body at once. */
  readAll(): Promise<Uint8Array>;
  cancel(): void;
}

export interface UpstreamTimeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
}

export interface UpstreamClient {
  /** The replica's base URL as configured. */
  readonly url: string;
  request(request: UpstreamRequest): Promise<UpstreamResponse>;
  /** What a failure of `request` or of reading a body means for the client (502, 504). */
  describeError(err: unknown, backend: string): OrlaError;
  close(): Promise<void>;
}

export type UpstreamClientFactory = (url: string, timeouts: UpstreamTimeouts) => UpstreamClient;

/**
 * The path to request on a replica whose URL may carry a base path. A base ending in `/v1` is
 * accepted too (a common way to write an OpenAI base URL), without doubling it.
 */
export function joinPath(basePath: string, path: string): string {
  const base = basePath.replace(/\/+$/, '');
  if (base.endsWith('/v1') && path.startsWith('/v1/')) return base + path.slice(3);
  return base + path;
}
