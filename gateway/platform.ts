import type { Context } from 'hono';

// What the core needs from its runtime to move bytes. Node writes straight into its ServerResponse
// (gateway/node/platform.ts); other runtimes build a Web Response (gateway/web/platform.ts).

export type HeaderValues = Record<string, string | string[] | undefined>;

export interface ResponseHead {
  status: number;
  headers: Record<string, string | string[]>;
}

export interface Platform {
  /** The request's headers, names lower-case. */
  requestHeaders(c: Context): HeaderValues;
  /** The request body as text; throws a 413 past `limitBytes`. */
  readBody(c: Context, limitBytes: number): Promise<string>;
  /** A complete response. */
  send(c: Context, head: ResponseHead, body: string | Uint8Array): Response;
  /** A response whose body is written as the chunks arrive. Node resolves once it is all written. */
  stream(c: Context, head: ResponseHead, chunks: AsyncIterable<Uint8Array>): Promise<Response>;
}
