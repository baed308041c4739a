import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, metric, startFleetEngine, startGatewayProcess, type FleetEngine, type GatewayProcess } from '../helpers/fleet.js';
import { REDIS_INSTALLED, startRedis, type TestRedis } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

// Two `orla serve` processes on one Redis act as one gateway (state.store: redis): runs, their
// releases and the backends' limits are the fleet's. What the engines saw is the evidence: which
// run each request carried, how many were in flight at once, and each release.

const fleetConfig = (redis: TestRedis, prefix: string, urls: string[], extra: { max_concurrency?: number; idle_ttl_s?: number } = {}) => ({
  server: { log_level: 'warn' },
  // A generous timeout: the suite's other files share the machine's two cores, and a gateway whose
  // event loop stalls past it serves from its local state (as it should), which these tests do not expect.
  state: { store: 'redis', url: redis.url, key_prefix: prefix, heartbeat_ms: 200, lease_ms: 1_000, timeout_ms: 1_000 },
  backends: { pool: { engine: 'simulator', urls, max_concurrency: extra.max_concurrency ?? 8 } },
  stages: { default: { backend: 'pool', model: 'm' } },
  memory: { idle_ttl_s: extra.idle_ttl_s ?? 600, pressure: { interval_ms: 0 } },
});

/** Two gateways of one fleet, started one after the other (as a deploy adds them). */
async function pair(config: Record<string, unknown>): Promise<[GatewayProcess, GatewayProcess]> {
  const a = await startGatewayProcess(config);
  return [a, await startGatewayProcess(config)];
}

const runsOf = (engine: FleetEngine) => new Set(engine.seen.map((s) => s.run));
const count = (list: string[], item: string) => list.filter((x) => x === item).length;

describe.skipIf(!REDIS_INSTALLED)('a fleet of two gateways', () => {
  let redis: TestRedis;
  let engines: FleetEngine[];
  let a: GatewayProcess;
  let b: GatewayProcess;
  beforeAll(async () => {
    redis = await startRedis();
    engines = [await startFleetEngine(), await startFleetEngine()];
    [a, b] = await pair(fleetConfig(redis, 'runs:', engines.map((e) => e.url)));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([...(engines ?? []).map((e) => e.close()), redis?.close()]);
  });

  it('keeps each run on one engine replica while its calls alternate between the gateways, and spreads the runs', async () => {
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 4; j++) {
        const res = await call((i + j) % 2 === 0 ? a.url : b.url, `spread-${i}`);
        expect(res.status).toBe(200);
        if (j > 0) expect(res.headers.get('x-orla-cache')).toContain('replica=hit');
        await res.text();
      }
    }
    for (let i = 0; i < 6; i++) expect(engines.filter((e) => runsOf(e).has(`spread-${i}`)).length).toBe(1);
    for (const engine of engines) expect([...runsOf(engine)].filter((r) => r?.startsWith('spread-')).length).toBeGreaterThan(0);
  });

  it('shows the whole run on either gateway, and the fleet\'s runs in each list', async () => {
    for (const gateway of [a, b, a, b]) await (await call(gateway.url, 'whole')).text();
    const [fromA, fromB] = await Promise.all([a, b].map(async (g) => (await fetch(`${g.url}/v1/workflows/whole`)).json()));
    expect(fromA).toMatchObject({ id: 'whole', calls: 4, tokens: { prompt: 80, completion: 8 }, in_flight: 0 });
    expect(fromA.replicas).toHaveLength(1);
    expect(fromB).toEqual(fromA);
    await (await call(a.url, 'listed-a')).text();
    await (await call(b.url, 'listed-b')).text();
    for (const g of [a, b]) {
      const ids = ((await (await fetch(`${g.url}/v1/workflows`)).json()).data as { id: string }[]).map((r) => r.id);
      expect(ids).toEqual(expect.arrayContaining(['whole', 'listed-a', 'listed-b']));
    }
  });

  it('releases a run once when the other gateway completes it', async () => {
    await (await call(a.url, 'done-by-b')).text();
    await (await call(a.url, 'done-by-b')).text();
    const engine = engines.find((e) => runsOf(e).has('done-by-b'))!;
    const completed = await fetch(`${b.url}/v1/workflows/done-by-b/complete`, { method: 'POST' });
    expect((await completed.json()).completed_by).toBe('client');
    await until(() => engine.released.includes('done-by-b'), 'the run to be released');
    expect((await fetch(`${a.url}/v1/workflows/done-by-b/complete`, { method: 'POST' })).status).toBe(200); // already ended: nothing more to release

    // X-Orla-Workflow-Done on the other gateway's call ends it the same way.
    await (await call(a.url, 'done-header')).text();
    await (await call(b.url, 'done-header', { done: true })).text();
    await until(() => engines.some((e) => e.released.includes('done-header')), 'the run ended by X-Orla-Workflow-Done to be released');
    // A later release of another run, through both gateways, to be sure no second release of these was on its way.
    await (await call(b.url, 'barrier')).text();
    await fetch(`${a.url}/v1/workflows/barrier/complete`, { method: 'POST' });
    await until(() => engines.some((e) => e.released.includes('barrier')), 'the barrier run to be released');
    const released = engines.flatMap((e) => e.released);
    expect(count(released, 'done-by-b')).toBe(1);
    expect(count(released, 'done-header')).toBe(1);
  });
});

describe.skipIf(!REDIS_INSTALLED)('a fleet with tenants', () => {
  const KEYS = { admin: 'sk-admin-fleet-3e1a', acme: 'sk-acme-fleet-8b2c', globex: 'sk-globex-fleet-4d9f' };
  let redis: TestRedis;
  let engines: FleetEngine[];
  let gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    engines = [await startFleetEngine(), await startFleetEngine()];
    gateways = await pair({
      ...fleetConfig(redis, 'tenants:', engines.map((e) => e.url)),
      server: { log_level: 'warn', admin_keys: [KEYS.admin] },
      tenants: { acme: { keys: [KEYS.acme] }, globex: { keys: [KEYS.globex] } },
    });
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([...(engines ?? []).map((e) => e.close()), redis?.close()]);
  });

  const workflows = (g: GatewayProcess, key: string, path = '', init: RequestInit = {}) => fetch(`${g.url}/v1/workflows${path}`, { ...init, headers: { authorization: `Bearer ${key}` } });

  it("keeps two tenants' runs of the same id apart across the gateways: records, lists, completion", async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    for (const [g, key] of [[a, KEYS.acme], [b, KEYS.acme], [b, KEYS.globex]] as const) {
      const res = await call(g.url, 'ticket-1', { key });
      expect(res.status).toBe(200);
      await res.text();
    }
    for (const g of [a, b]) {
      expect(await (await workflows(g, KEYS.acme, '/ticket-1')).json()).toMatchObject({ id: 'ticket-1', tenant: 'acme', calls: 2 });
      expect(await (await workflows(g, KEYS.globex, '/ticket-1')).json()).toMatchObject({ id: 'ticket-1', tenant: 'globex', calls: 1 });
      const listed = ((await (await workflows(g, KEYS.globex)).json()).data as { id: string; tenant: string }[]).map((r) => `${r.tenant}/${r.id}`);
      expect(listed).toEqual(['globex/ticket-1']);
      const all = ((await (await workflows(g, KEYS.admin)).json()).data as { id: string; tenant: string }[]).map((r) => `${r.tenant}/${r.id}`);
      expect(all.sort()).toEqual(['acme/ticket-1', 'globex/ticket-1']);
    }
    // globex ends its run through one gateway; acme's run of the same id goes on, on the other.
    expect((await (await workflows(a, KEYS.globex, '/ticket-1/complete', { method: 'POST' })).json()).completed_by).toBe('client');
    expect((await (await workflows(b, KEYS.acme, '/ticket-1')).json()).status).not.toBe('completed');
    expect((await (await workflows(b, KEYS.globex, '/ticket-1')).json()).status).toBe('completed');
    // The engines saw two runs, each on one replica, and the release was globex's alone.
    const seen = engines.map((e) => [...runsOf(e)].sort());
    expect(seen.flat().sort()).toEqual(['acme/ticket-1', 'globex/ticket-1']);
    await until(() => engines.some((e) => e.released.includes('globex/ticket-1')), "globex's run to be released");
    expect(engines.flatMap((e) => e.released)).toEqual(['globex/ticket-1']);
  });
});

describe.skipIf(!REDIS_INSTALLED)("a fleet: a tenant's max_concurrency", () => {
  const KEYS = { acme: 'sk-acme-fleet-51c0', globex: 'sk-globex-fleet-e27b' };
  let redis: TestRedis;
  let engine: FleetEngine;
  let gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    engine = await startFleetEngine();
    gateways = await pair({
      ...fleetConfig(redis, 'tenant-limit:', [engine.url], { max_concurrency: 8 }),
      tenants: { acme: { keys: [KEYS.acme], max_concurrency: 2 }, globex: { keys: [KEYS.globex] } },
    });
  });
  afterAll(async () => {
    engine?.let();
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([engine?.close(), redis?.close()]);
  });

  it('holds for the fleet: two gateways let two of its requests in at once, not two each, and hold up no other tenant', async () => {
    for (const g of gateways) await until(async () => (await metric(g.url, 'orla_fleet_gateways')) === 2, 'both gateways to see the fleet of two');
    engine.hold();
    const acme = Array.from({ length: 6 }, (_, i) => call(gateways[i % 2]!.url, `acme-${i}`, { key: KEYS.acme }));
    await until(() => engine.inFlight === 2, "two of acme's requests to reach the engine");
    const globex = call(gateways[0]!.url, 'globex-1', { key: KEYS.globex });
    await until(() => engine.inFlight === 3, "globex's request to reach the engine past acme's waiting ones");
    engine.let();
    const answered = await Promise.all([...acme, globex]);
    expect(answered.map((r) => r.status)).toEqual(Array(7).fill(200));
    await Promise.all(answered.map((r) => r.text()));
    expect(engine.seen.length).toBe(7);
    expect(engine.peak).toBe(3);
  });
});

describe.skipIf(!REDIS_INSTALLED)('a fleet: the idle TTL', () => {
  let redis: TestRedis;
  let engine: FleetEngine;
  let gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    engine = await startFleetEngine();
    gateways = await pair(fleetConfig(redis, 'idle:', [engine.url], { idle_ttl_s: 1 }));
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([engine?.close(), redis?.close()]);
  });

  it('ends an idle run once: one gateway releases it, and it is gone from both', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    await (await call(a.url, 'idle-1')).text();
    await (await call(b.url, 'idle-1')).text();
    await until(() => engine.released.includes('idle-1'), 'the idle run to be released');
    for (const g of gateways) await until(async () => (await fetch(`${g.url}/v1/workflows/idle-1`)).status === 404, 'the idle run to be forgotten');
    // Both gateways go on sweeping: another run's expiry is the barrier.
    await (await call(b.url, 'idle-2')).text();
    await until(() => engine.released.includes('idle-2'), 'the second idle run to be released');
    expect(count(engine.released, 'idle-1')).toBe(1);
    const expired = await Promise.all(gateways.map((g) => metric(g.url, 'orla_runs_expired_total{reason="idle"}')));
    expect(expired.reduce((sum, n) => sum! + (n ?? 0), 0)).toBe(2);
  });
});

describe.skipIf(!REDIS_INSTALLED)('a fleet: one backend\'s limits', () => {
  let redis: TestRedis;
  let engine: FleetEngine;
  let gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    engine = await startFleetEngine(100);
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
    await Promise.all([engine?.close(), redis?.close()]);
  });

  it('never has more than max_concurrency in flight at the engine, for 12 requests split over both gateways', async () => {
    gateways = await pair(fleetConfig(redis, 'limit:', [engine.url], { max_concurrency: 2 }));
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => call(i % 2 ? a.url : b.url, `limit-${i}`)));
    expect(responses.map((r) => r.status)).toEqual(Array(12).fill(200));
    await Promise.all(responses.map((r) => r.text()));
    expect(engine.seen.length).toBe(12);
    expect(engine.peak).toBeLessThanOrEqual(2);
    expect(engine.peak).toBeGreaterThan(0);
  });

  it('gives the slots of a gateway that died back to the fleet when its lease ends', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    engine.hold();
    // Their gateway dies under them: these fail, as requests in flight on a dead gateway do.
    const held = [call(a.url, 'held-1'), call(a.url, 'held-2')].map((p) => p.then((r) => r.text()).catch(() => 'gone'));
    await until(() => engine.inFlight === 2, 'the first gateway to hold both slots at the engine');
    await a.kill();
    await until(() => engine.inFlight === 0, 'the engine to see the dead gateway\'s requests go');
    await Promise.allSettled(held);
    const after = [call(b.url, 'after-1'), call(b.url, 'after-2')];
    await until(() => engine.inFlight === 2, 'the dead gateway\'s slots to come back (its lease is 1 s)', 5_000);
    engine.let();
    const answered = await Promise.all(after);
    expect(answered.map((r) => r.status)).toEqual([200, 200]);
    await Promise.all(answered.map((r) => r.text()));
    expect(await metric(b.url, 'orla_fleet_gateways')).toBe(1);
  });
});

describe.skipIf(!REDIS_INSTALLED)('a fleet: Redis down or slow', () => {
  let redis: TestRedis;
  let engine: FleetEngine;
  let gateways: GatewayProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    engine = await startFleetEngine();
    gateways = await pair(fleetConfig(redis, 'outage:', [engine.url], { max_concurrency: 4 }));
  });
  afterAll(async () => {
    redis?.thaw();
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([engine?.close(), redis?.close()]);
  });

  const up = (g: GatewayProcess) => metric(g.url, 'orla_state_store_up');

  it('serves every request while Redis is stopped, and shares again once it is back', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    await (await call(a.url, 'before')).text();
    expect((await fetch(`${b.url}/v1/workflows/before`)).status).toBe(200);

    await redis.stop();
    const during = await Promise.all(Array.from({ length: 10 }, (_, i) => call(i % 2 ? a.url : b.url, `during-${i % 3}`)));
    expect(during.map((r) => r.status)).toEqual(Array(10).fill(200));
    await Promise.all(during.map((r) => r.text()));
    for (const g of gateways) await until(async () => (await up(g)) === 0, 'the gateway to report the store down');
    // Unknown runs and the workflow API still answer, from local state.
    expect((await fetch(`${a.url}/v1/workflows`)).status).toBe(200);

    await redis.start();
    for (const g of gateways) await until(async () => (await up(g)) === 1, 'the gateway to see the store back');
    await (await call(a.url, 'after')).text();
    await (await call(b.url, 'after')).text();
    expect((await (await fetch(`${a.url}/v1/workflows/after`)).json()).calls).toBe(2);
    for (const g of gateways) await until(async () => (await metric(g.url, 'orla_fleet_gateways')) === 2, 'both gateways to share limits again');
  });

  it('starts a gateway while Redis is down, serving from its own state, and joins the fleet once Redis is back', async () => {
    await redis.stop();
    const late = await startGatewayProcess(fleetConfig(redis, 'outage:', [engine.url], { max_concurrency: 4 }));
    try {
      expect(await up(late)).toBe(0);
      const res = await call(late.url, 'late-1');
      expect(res.status).toBe(200);
      await res.text();
      await redis.start();
      for (const g of [late, ...gateways]) await until(async () => (await up(g)) === 1, 'every gateway to reach Redis');
      await until(async () => (await metric(late.url, 'orla_fleet_gateways')) === 3, 'the late gateway to join the fleet');
      await (await call(late.url, 'late-2')).text();
      expect((await fetch(`${gateways[0]!.url}/v1/workflows/late-2`)).status).toBe(200);
    } finally {
      await late.stop();
    }
  });

  it('serves every request while Redis answers nothing, each waiting at most the timeout', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    redis.freeze();
    try {
      const during = await Promise.all(Array.from({ length: 6 }, (_, i) => call(i % 2 ? a.url : b.url, `frozen-${i}`)));
      expect(during.map((r) => r.status)).toEqual(Array(6).fill(200));
      await Promise.all(during.map((r) => r.text()));
      for (const g of gateways) await until(async () => (await up(g)) === 0, 'the gateway to give up on a silent store');
    } finally {
      redis.thaw();
    }
    for (const g of gateways) await until(async () => (await up(g)) === 1, 'the gateway to see the store answer again');
    await (await call(b.url, 'thawed')).text();
    expect((await fetch(`${a.url}/v1/workflows/thawed`)).status).toBe(200);
  });
});
