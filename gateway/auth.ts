import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { unauthorized } from '../errors.js';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `Authorization: Bearer <key>` against the configured keys; throws 401 unless it is one of them.
 * Digests have one length, so the comparison is constant-time whatever the key; every key is
 * compared, so no early exit tells which.
 */
export function apiKeyCheck(keys: readonly string[]): (authorization: string | undefined) => void {
  const accepted = keys.map(digest);
  return (authorization) => {
    const match = authorization ? /^Bearer\s+(.+)$/i.exec(authorization) : null;
    if (!match) throw unauthorized('missing API key: send Authorization: Bearer <key>');
    const offered = digest(match[1]!.trim());
    let ok = false;
    for (const key of accepted) ok = timingSafeEqual(key, offered) || ok;
    if (!ok) throw unauthorized('invalid API key');
  };
}

export function requireApiKey(keys: readonly string[]): MiddlewareHandler {
  const check = apiKeyCheck(keys);
  return async (c, next) => {
    check(c.req.header('authorization'));
    await next();
  };
}
