import type { Context } from 'hono';
import type { ClientGone } from '../cancel.js';
import type { StreamRelay } from './sse.js';

// What the core needs from its runtime to move bytes. Node writes straight into its ServerResponse
// (gateway/node/platform.ts); other runtimes build a Web Response (gateway/web/platform.ts).

export type HeaderValues = Record<string, string | string[] | undefined>;

export interface ResponseHead {
  status: number;
  headers: Record<string, string | string[]>;
}

/**
 * `R` is the runtime's handle on one request: Node's request and response objects, or a Hono context
 * on runtimes that answer with a Response.
 */
export interface Platform<R = unknown> {
  /** The handle of a request that came through Hono. */
  fromContext(c: Context): R;
  /** The request's headers, names lower-case. */
  requestHeaders(req: R): HeaderValues;
  /** Aborts when the client leaves before its response is complete. Called once per proxied request. */
  clientGone(req: R): ClientGone;
  /** The request body as text; throws a 413 past `limitBytes`. */
  readBody(req: R, limitBytes: number): Promise<string>;
  /** A complete response. */
  send(req: R, head: ResponseHead, body: string | Uint8Array): Response;
  /**
   * A response whose body is the upstream body passed through `relay` as it arrives. Node resolves
   * once all is written; the client leaving stops the reading.
   */
  stream(req: R, head: ResponseHead, body: AsyncIterable<Uint8Array>, relay: StreamRelay): Promise<Response>;
}
