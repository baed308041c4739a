import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { part, type BackendLoad } from '../../routing/fleet-shares.js';
import { RedisFleetLink } from '../../routing/redis-fleet.js';
import { REDIS_INSTALLED, startRedis, type TestRedis } from '../helpers/redis.js';

// The fleet's heartbeat script on a real Redis: how one backend's max_concurrency is divided among
// gateways, that the shares never add up to more than it, and that a gateway that stops beating
// holds nothing once its lease ends.

const load = (demand: number, options: Partial<BackendLoad> = {}): BackendLoad[] => [
  { name: 'b', max: 8, limit: 0, inUse: 0, demand, inFlight: {}, ...options },
];

describe('a gateway\'s part of a limit while the fleet cannot be reached', () => {
  it('divides the total among the gateways last seen, the remainder to the first ranks', () => {
    expect([0, 1, 2].map((rank) => part(8, 3, rank))).toEqual([3, 3, 2]);
    expect([0, 1].map((rank) => part(4096, 2, rank))).toEqual([2048, 2048]);
    expect(part(5, 1, 0)).toBe(5);
  });
});

describe.skipIf(!REDIS_INSTALLED)('the fleet heartbeat', () => {
  let redis: TestRedis;
  let connection: Redis;
  let prefixes = 0;
  beforeAll(async () => {
    redis = await startRedis();
    connection = new Redis(redis.url);
  });
  afterAll(async () => {
    connection?.disconnect();
    await redis?.close();
  });

  /** A fleet under its own prefix; `held` reads what each gateway is counted as holding. */
  const fleet = (leaseMs = 10_000) => {
    const prefix = `shares${prefixes++}:`;
    const link = new RedisFleetLink(connection, prefix, leaseMs);
    const held = async () => {
      const flat = await connection.hgetall(`${prefix}fleet:b`);
      return Object.values(flat).reduce((sum, v) => sum + (JSON.parse(v) as { held: number }).held, 0);
    };
    return { link, held };
  };

  it('gives a gateway alone the whole limit', async () => {
    const { link } = fleet();
    const view = await link.beat('a', load(0));
    expect(view).toMatchObject({ gateways: 1, rank: 0, backends: { b: { grant: 8, target: 8 } } });
  });

  it('splits the limit between two idle gateways once the first confirms its smaller share, never holding more than it', async () => {
    const { link, held } = fleet();
    expect((await link.beat('a', load(0))).backends.b!.grant).toBe(8);
    const joined = await link.beat('b', load(0));
    expect(joined.backends.b).toMatchObject({ grant: 0, target: 4 }); // a holds all 8 until it beats
    expect(await held()).toBeLessThanOrEqual(8);
    const shrunk = await link.beat('a', load(0, { limit: 8 }));
    expect(shrunk.backends.b).toMatchObject({ grant: 4, held: 8 }); // its old limit still counted
    expect(await held()).toBeLessThanOrEqual(8);
    expect((await link.beat('b', load(0))).backends.b!.grant).toBe(0);
    await link.beat('a', load(0, { limit: 4 })); // confirms
    expect((await link.beat('b', load(0))).backends.b!.grant).toBe(4);
    expect(await held()).toBe(8);
  });

  it('divides max-min fair by demand: the small demand met, the rest to the large one', async () => {
    const { link, held } = fleet();
    await link.beat('a', load(2));
    await link.beat('b', load(20));
    await link.beat('a', load(2, { limit: 8 }));
    await link.beat('a', load(2, { limit: 2 }));
    const big = await link.beat('b', load(20));
    expect(big.backends.b).toMatchObject({ target: 6, grant: 6 });
    expect((await link.beat('a', load(2, { limit: 2 }))).backends.b).toMatchObject({ target: 2, grant: 2 });
    expect(await held()).toBe(8);
  });

  it('never takes back slots a gateway has in flight, whatever its fair share', async () => {
    const { link, held } = fleet();
    await link.beat('a', load(8, { limit: 8, inUse: 8 }));
    const other = await link.beat('b', load(8));
    expect(other.backends.b!.grant).toBe(0);
    expect((await link.beat('a', load(8, { limit: 8, inUse: 8 }))).backends.b!.grant).toBe(8);
    expect(await held()).toBe(8);
  });

  it('returns a silent gateway\'s share once its lease ends, and tells the others of each other\'s requests in flight', async () => {
    const { link } = fleet(150);
    await link.beat('a', load(3, { limit: 8, inUse: 3, inFlight: { 'http://r1': 3 } }));
    const b = await link.beat('b', load(0));
    expect(b).toMatchObject({ gateways: 2, rank: 1 });
    expect(b.backends.b!.elsewhere).toEqual({ 'http://r1': 3 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const alone = await link.beat('b', load(0));
    expect(alone).toMatchObject({ gateways: 1, rank: 0, backends: { b: { grant: 8, elsewhere: {} } } });
  });

  it('lets a gateway that leaves give its share back at once', async () => {
    const { link } = fleet();
    await link.beat('a', load(0));
    await link.beat('b', load(0));
    await link.leave('a', ['b']);
    expect((await link.beat('b', load(0))).backends.b!.grant).toBe(8);
  });
});
