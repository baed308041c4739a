import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRunStore } from '../../sessions/redis-store.js';
import { completeOp } from '../../sessions/runs.js';
import { runOp } from '../../state.js';
import { REDIS_INSTALLED, startRedis, type TestRedis } from '../helpers/redis.js';
import { storeContract } from './store-contract.js';

// The Redis store against the contract every store keeps, on a real redis-server. Each store gets
// its own key prefix, so the tests share one server and never see each other's runs.

describe.skipIf(!REDIS_INSTALLED)('Redis', () => {
  let redis: TestRedis;
  let stores = 0;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.close());

  storeContract('Redis', async ({ idleTtlMs, maxRuns, onExpired, clock }) => {
    const connection = new Redis(redis.url, { lazyConnect: true });
    await connection.connect();
    return new RedisRunStore(connection, {
      keyPrefix: `contract${stores++}:`,
      idleTtlMs,
      maxRuns,
      onExpired,
      now: () => clock.now,
      close: async () => void (await connection.quit()),
    });
  });
});

describe.skipIf(!REDIS_INSTALLED)('two gateways on one Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.close());

  const pair = async (prefix: string, clock: { now: number }) => {
    const ended: string[] = [];
    const make = async (name: string) => {
      const connection = new Redis(redis.url, { lazyConnect: true });
      await connection.connect();
      return new RedisRunStore(connection, {
        keyPrefix: prefix,
        idleTtlMs: 60_000,
        maxRuns: 100,
        onExpired: (run, why) => ended.push(`${name}:${run.id}:${why}`),
        now: () => clock.now,
        close: async () => void (await connection.quit()),
      });
    };
    return { a: await make('a'), b: await make('b'), ended };
  };

  it('ends a run once when both complete it at the same moment', async () => {
    const clock = { now: 1_000_000 };
    const { a, b } = await pair('once:', clock);
    await a.apply('r', [], { create: { inferred: false, now: clock.now } });
    const complete = (store: RedisRunStore) => store.apply('r', [completeOp('client', clock.now)]);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => complete(i % 2 ? a : b)));
    expect(answers.filter((x) => x.results[0]).length).toBe(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('hands an idle run to one of the gateways sweeping together, once', async () => {
    const clock = { now: 1_000_000 };
    const { a, b, ended } = await pair('sweep:', clock);
    for (const id of ['x', 'y', 'z']) await a.apply(id, [runOp.setIn('resident', 'http://r1', 5)], { create: { inferred: false, now: clock.now } });
    clock.now += 60_001;
    await Promise.all([a.sweep(clock.now), b.sweep(clock.now), a.sweep(clock.now), b.sweep(clock.now)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended.map((e) => e.slice(2)).sort()).toEqual(['x:idle', 'y:idle', 'z:idle']);
    expect(await b.runsOn('http://r1')).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });

  it('sees the other gateway\'s changes and keeps empty lists as lists', async () => {
    const clock = { now: 1_000_000 };
    const { a, b } = await pair('shared:', clock);
    await a.apply('r', [runOp.incr('costUsd', 0.000123), runOp.add('stages', 's')], { create: { inferred: true, now: clock.now } });
    const { after } = await b.apply('r', [runOp.incr('costUsd', 0.000002)]);
    expect(after).toMatchObject({ inferred: true, stages: ['s'], backends: [], replicas: [], cacheActions: [], resident: {} });
    expect(after!.costUsd).toBeCloseTo(0.000125, 12);
    expect(await a.get('r')).toEqual(after);
    await Promise.all([a.close(), b.close()]);
  });
});
