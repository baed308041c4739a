import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { forbidden, unauthorized } from '../errors.js';

/** Who a request comes from, by its key. */
export interface Principal {
  /** The tenant its calls and runs belong to; undefined without authentication (one space, as always). */
  tenant: string | undefined;
  /** May call the admin API and see every tenant's runs. */
  admin: boolean;
}

/** Routes that read the request's principal (set for every /v1/ route). */
export type AuthEnv = { Variables: { principal: Principal } };

/** The admin API answers 403 to any other key. */
export function requireAdmin(principal: Principal): void {
  if (!principal.admin) throw forbidden('this route needs an admin key (server.admin_keys)');
}

/** Without keys, anyone may do anything, in one shared space of runs. */
export const ANONYMOUS: Principal = { tenant: undefined, admin: true };

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The principal of each configured key: `server.api_keys` are the tenant `default`, each tenant's
 * `keys` that tenant, `server.admin_keys` the tenant `admin` with the admin role. Undefined when no
 * key is configured (authentication off).
 */
export function keyring(config: Config): ((authorization: string | undefined) => Principal) | undefined {
  const entries: { digest: Buffer; principal: Principal }[] = [];
  const add = (keys: readonly string[], principal: Principal) => keys.forEach((key) => entries.push({ digest: digest(key), principal }));
  add(config.server.api_keys, { tenant: 'default', admin: false });
  add(config.server.admin_keys, { tenant: 'admin', admin: true });
  for (const [name, t] of Object.entries(config.tenants)) add(t.keys, { tenant: name, admin: false });
  if (entries.length === 0) return undefined;
  // Digests have one length, so each comparison is constant-time whatever the key; every key is
  // compared, so no early exit tells which one matched, or how far.
  return (authorization) => {
    const match = authorization ? /^Bearer\s+(.+)$/i.exec(authorization) : null;
    if (!match) throw unauthorized('missing API key: send Authorization: Bearer <key>');
    const offered = digest(match[1]!.trim());
    let found: Principal | undefined;
    for (const entry of entries) if (timingSafeEqual(entry.digest, offered)) found ??= entry.principal;
    if (!found) throw unauthorized('invalid API key');
    return found;
  };
}
