import type { Redis } from 'ioredis';
import type { Applied, ApplyOptions, OnExpired, RunOp, RunRecord, RunStore } from '../state.js';
import { APPLY, LIST, RUNS_ON, SWEEP } from './redis-lua.js';

/** The scripts, as ioredis commands (EVALSHA, loaded once; EVAL again when Redis lost them). */
interface Scripts {
  orlaApply(...args: string[]): Promise<[string | null, string, string, string]>;
  orlaSweep(...args: string[]): Promise<string[]>;
  orlaList(...args: string[]): Promise<string[]>;
  orlaRunsOn(...args: string[]): Promise<string[]>;
}

const SWEEP_BATCH = 200;

/**
 * The runs of a fleet of gateways, in Redis: each run one JSON record, changed only by the scripts
 * of sessions/redis-lua.ts, which apply a list of ops atomically in one round trip. A run idle past
 * the TTL ends exactly once, on whichever gateway meets it first (its sweep, or a call that finds it
 * expired), and is handed to that gateway's `onExpired`; so is a run evicted past `maxRuns`.
 * Numbers keep 14 significant digits (Redis's cjson).
 */
export class RedisRunStore implements RunStore {
  private readonly scripts: Scripts;
  private readonly prefix: string;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly options: {
      keyPrefix: string;
      maxRuns: number;
      idleTtlMs: number;
      onExpired: OnExpired;
      /** The clock the idle TTL is measured on (tests inject one). */
      now?: () => number;
      /** What closing the store also closes (a connection it owns). */
      close?: () => Promise<void>;
    },
  ) {
    this.prefix = options.keyPrefix;
    this.now = options.now ?? Date.now;
    defineScripts(redis);
    this.scripts = redis as unknown as Scripts;
  }

  async apply(id: string, ops: readonly RunOp[], options: ApplyOptions = {}): Promise<Applied> {
    const { create, ifStartedAt } = options;
    const [after, results, expired, evicted] = await this.scripts.orlaApply(
      this.prefix,
      id,
      JSON.stringify(ops),
      create ? String(create.inferred) : '',
      create ? String(create.now) : '',
      ifStartedAt === undefined ? '' : String(ifStartedAt),
      String(this.now()),
      String(this.options.idleTtlMs),
      String(this.options.maxRuns),
      String(this.keyTtlMs()),
    );
    if (expired) this.handOver([JSON.parse(expired) as RunRecord], 'idle');
    if (evicted) this.handOver(JSON.parse(evicted) as RunRecord[], 'evicted');
    return { after: after === null ? undefined : (JSON.parse(after) as RunRecord), results: [...results].map((r) => r === '1') };
  }

  async get(id: string): Promise<RunRecord | undefined> {
    const raw = await this.redis.get(`${this.prefix}run:${id}`);
    return raw === null ? undefined : (JSON.parse(raw) as RunRecord);
  }

  async list(limit: number, tenant?: string): Promise<RunRecord[]> {
    return parseAll(await this.scripts.orlaList(this.prefix, String(this.now()), String(this.options.idleTtlMs), String(limit), tenant ?? ''));
  }

  async runsOn(replica: string): Promise<RunRecord[]> {
    return parseAll(await this.scripts.orlaRunsOn(this.prefix, replica));
  }

  async sweep(now: number): Promise<void> {
    for (;;) {
      const ended = parseAll(await this.scripts.orlaSweep(this.prefix, String(now), String(this.options.idleTtlMs), String(SWEEP_BATCH)));
      this.handOver(ended, 'idle');
      if (ended.length < SWEEP_BATCH) return;
    }
  }

  async close(): Promise<void> {
    await this.options.close?.();
  }

  /** A record no gateway swept (the whole fleet down) still goes, at twice the idle TTL (Redis's own clock). */
  private keyTtlMs(): number {
    return Math.round(this.options.idleTtlMs * 2) + 60_000;
  }

  private handOver(runs: RunRecord[], why: 'idle' | 'evicted'): void {
    // Once the caller has its answer, as the in-memory store does.
    for (const run of runs) queueMicrotask(() => this.options.onExpired(run, why));
  }
}

const parseAll = (raws: string[]) => raws.map((raw) => JSON.parse(raw) as RunRecord);

const defined = new WeakSet<Redis>();

function defineScripts(redis: Redis): void {
  if (defined.has(redis)) return;
  defined.add(redis);
  redis.defineCommand('orlaApply', { numberOfKeys: 0, lua: APPLY });
  redis.defineCommand('orlaSweep', { numberOfKeys: 0, lua: SWEEP });
  redis.defineCommand('orlaList', { numberOfKeys: 0, lua: LIST });
  redis.defineCommand('orlaRunsOn', { numberOfKeys: 0, lua: RUNS_ON });
}
