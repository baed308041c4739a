import { badRequest, unsupportedMediaType } from '../errors.js';
import { splitRequestHeaders } from './headers.js';
import type { Platform } from './platform.js';
import { validateBody, type RouteKind } from './validate.js';

const JSON_CONTENT = /^application\/([\w.+-]+\+)?json\b/i;

export interface Incoming {
  body: Record<string, unknown>;
  /** The body's length in characters (~4 per token: enough to rank jobs). */
  length: number;
  /** `x-orla-*` headers, for the identity. */
  orla: Record<string, string>;
  /** The client's headers the engine may see. */
  forward: Record<string, string>;
  /** The client's own Authorization, if it sent one. */
  authorization: string | undefined;
}

/** The client's request, read and checked: JSON, within the body limit, its fields as the route needs them. */
export async function readRequest<R>(kind: RouteKind, platform: Platform<R>, req: R, bodyLimitBytes: number): Promise<Incoming> {
  const headers = platform.requestHeaders(req);
  const contentType = headers['content-type'];
  if (typeof contentType !== 'string' || !JSON_CONTENT.test(contentType)) throw unsupportedMediaType(typeof contentType === 'string' ? contentType : undefined);
  const text = await platform.readBody(req, bodyLimitBytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badRequest(`request body is not valid JSON: ${(err as Error).message}`, null, 'invalid_json');
  }
  validateBody(kind, body);
  const { orla, forward } = splitRequestHeaders(headers);
  return { body, length: text.length, orla, forward, authorization: typeof headers.authorization === 'string' ? headers.authorization : undefined };
}
