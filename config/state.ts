import { z } from 'zod';

// The `state:` section: where the gateway keeps run state, and with Redis, how the gateways of one
// fleet share it and the backends' limits (README, "Scale-out"). `store`, `url` and `key_prefix`
// are the public contract; the timings have defaults that suit a LAN.

const positiveInt = z.number().int().positive();

const state = z
  .strictObject({
    /** memory: this gateway's own; redis: shared by every gateway with the same url and key_prefix. */
    store: z.enum(['memory', 'redis']).default('memory'),
    /** redis:// or rediss://, with the database as its path (redis://127.0.0.1:6379/0). */
    url: z.string().optional(),
    /** Prepended to every key, so fleets (or other applications) can share one Redis. */
    key_prefix: z.string().default('orla:'),
    /** The longest any request waits on Redis; past it the gateway serves from its local state. */
    timeout_ms: positiveInt.default(100),
    /** How often a gateway renews its lease and re-balances its share of each backend's limits. */
    heartbeat_ms: positiveInt.default(1_000),
    /** A gateway not heard from for this long is gone: its share of the limits returns to the fleet. */
    lease_ms: positiveInt.default(5_000),
  })
  .superRefine((s, ctx) => {
    if (s.store !== 'redis') return;
    if (s.url === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required with store: redis (redis://host:6379/0)' });
    else if (!/^rediss?:\/\/[^/\s]+(\/\d*)?$/.test(s.url)) ctx.addIssue({ code: 'custom', path: ['url'], message: `not a redis:// or rediss:// URL with a database number: ${JSON.stringify(withoutPassword(s.url))}` });
    if (s.lease_ms < 2 * s.heartbeat_ms) ctx.addIssue({ code: 'custom', path: ['lease_ms'], message: `must be at least twice heartbeat_ms (${s.heartbeat_ms}), or a live gateway's share lapses between heartbeats` });
  });

/** A URL as an error may quote it: a password in it (redis://:secret@host) never leaves the config. */
const withoutPassword = (url: string) => url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');

export const STATE_DEFAULTS = { store: 'memory', key_prefix: 'orla:', timeout_ms: 100, heartbeat_ms: 1_000, lease_ms: 5_000 } as const;

/** Spread into the top-level config object. */
export const stateConfigKeys = {
  state: state.default(STATE_DEFAULTS),
};

export type StateConfig = z.infer<typeof state>;
