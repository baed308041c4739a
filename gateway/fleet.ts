import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis, ReplyError } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Backend } from '../routing/backend.js';
import { FleetShares, type FleetObserver } from '../routing/fleet-shares.js';
import { RedisFleetLink } from '../routing/redis-fleet.js';
import { FallbackRunStore, type SharedHealth } from '../sessions/fallback-store.js';
import { MemoryRunStore } from '../sessions/memory-store.js';
import { RedisRunStore } from '../sessions/redis-store.js';
import type { OnExpired, RunStore } from '../state.js';

// The Node entry's part of a fleet (state.store: redis): one Redis connection for the runs and the
// heartbeat, watched so that no request waits on it longer than state.timeout_ms, and this
// gateway's local state to serve from while it is down.

const PROBE_MS = 500;

export interface StateStoreObserver extends FleetObserver {
  stateStore?(up: boolean): void;
}

/** A gateway's membership of a fleet: its share of the limits, the shared run store, its heartbeat. */
export interface Fleet {
  readonly shares: FleetShares;
  /** The run store: Redis, with this gateway's own to fall back on. */
  store(onExpired: OnExpired): RunStore;
  /** Joins the fleet with the backends it shares (the first heartbeat), then beats on. */
  start(backends: ReadonlyMap<string, Backend>): Promise<void>;
  close(): Promise<void>;
}

export async function joinFleet(config: Config, options: { log: Logger; observer?: StateStoreObserver }): Promise<Fleet> {
  const state = config.state;
  const observer = options.observer ?? {};
  const redis = new Redis(state.url!, {
    lazyConnect: true,
    commandTimeout: state.timeout_ms,
    // A command never waits for a connection: it fails at once and the gateway serves locally.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1_000, state.timeout_ms * 10),
    retryStrategy: (times) => Math.min(100 * times, 1_000),
  });
  const id = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const link = new RedisFleetLink(redis, state.key_prefix, state.lease_ms);
  const told = <T>(promise: Promise<T>) => promise.catch((err: unknown) => {
    health.failed(err);
    throw err;
  });
  const shares = new FleetShares({ beat: (g, loads) => told(link.beat(g, loads)), leave: (g, names) => link.leave(g, names) }, id, state.heartbeat_ms, observer);
  const health = new StoreHealth(redis, options.log, (up) => {
    observer.stateStore?.(up);
    if (up) void shares.beat();
    else shares.lost();
  });
  redis.on('error', (err: unknown) => health.failed(err));
  await redis.connect().catch((err: unknown) => health.failed(err));
  observer.stateStore?.(health.up);
  options.log.info({ gateway: id, up: health.up }, 'joined the fleet on Redis');

  return {
    shares,
    store(onExpired) {
      const common = { maxRuns: config.memory.max_runs, idleTtlMs: config.memory.idle_ttl_s * 1000, onExpired };
      return new FallbackRunStore(new RedisRunStore(redis, { keyPrefix: state.key_prefix, ...common }), new MemoryRunStore(common), health);
    },
    async start(backends) {
      shares.attach(backends.values());
      await shares.start();
    },
    async close() {
      await shares.stop();
      health.stop();
      redis.disconnect();
    },
  };
}

/**
 * Whether Redis answers. The first failure (an error, a timeout) marks it down, logged once, and
 * a probe pings it until it answers again; a script's error is a bug, not an outage: logged, and
 * that operation falls back.
 */
class StoreHealth implements SharedHealth {
  up = true;
  private probe: ReturnType<typeof setInterval> | undefined;
  private readonly bugs = new Set<string>();

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly changed: (up: boolean) => void,
  ) {}

  failed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ReplyError) {
      if (this.bugs.size < 100 && !this.bugs.has(message)) this.log.error({ err: message }, 'Redis refused an operation: served from local state');
      this.bugs.add(message);
      return;
    }
    if (!this.up) return;
    this.up = false;
    this.log.warn({ err: message }, 'state store unreachable: serving from local state, limits from a per-gateway share');
    this.changed(false);
    this.probe = setInterval(() => void this.check(), PROBE_MS);
    this.probe.unref?.();
  }

  stop(): void {
    clearInterval(this.probe);
  }

  private async check(): Promise<void> {
    if (this.up) return;
    try {
      await this.redis.ping();
    } catch {
      return;
    }
    if (this.up) return;
    this.up = true;
    clearInterval(this.probe);
    this.log.info('state store back: runs and limits are shared again');
    this.changed(true);
  }
}
