import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { unauthorized } from '../errors.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `Authorization: Bearer <key>` against the configured keys. Digests have one length, so the
 * comparison is constant-time whatever the key; every key is compared, so no early exit tells which.
 */
export function requireApiKey(keys: readonly string[]): MiddlewareHandler {
  const accepted = keys.map(digest);
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null;
    if (!match) throw unauthorized('missing API key: send Authorization: Bearer <key>');
    const offered = digest(match[1]!.trim());
    let ok = false;
    for (const key of accepted) ok = timingSafeEqual(key, offered) || ok;
    if (!ok) throw unauthorized('invalid API key');
    await next();
  };
}
