import { describe, expect, it } from 'vitest';
import { beginOps, endOps, Runs, runIdOf } from '../../sessions/runs.js';
import { runOp, type OnExpired, type RunRecord, type RunStore } from '../../state.js';

/** A store under test, with the clock its idle TTL runs on. */
export interface StoreUnderTest {
  store: RunStore;
  clock: { now: number };
  ended: { id: string; why: string; run: RunRecord }[];
  close(): Promise<void>;
}

/**
 * What every RunStore must do, whatever holds its runs (memory, Redis, a Durable Object): the same
 * operations give the same records and results. `make` builds a fresh store with this TTL and room.
 */
export function storeContract(name: string, make: (options: { idleTtlMs: number; maxRuns: number; onExpired: OnExpired; clock: { now: number } }) => Promise<RunStore>): void {
  const open = async (maxRuns = 100): Promise<StoreUnderTest> => {
    const clock = { now: 1_000_000 };
    const ended: StoreUnderTest['ended'] = [];
    const store = await make({ idleTtlMs: 60_000, maxRuns, clock, onExpired: (run, why) => ended.push({ id: run.id, why, run }) });
    return { store, clock, ended, close: () => store.close() };
  };
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  describe(`the ${name} run store`, () => {
    it('creates a run on its first operation, applies every kind of operation, and answers before and after', async () => {
      const { store, clock, close } = await open();
      const first = await store.apply('r', [runOp.incr('calls', 1), runOp.add('stages', 'a')], { create: { inferred: true, now: clock.now } });
      expect(first.after).toMatchObject({ id: 'r', inferred: true, startedAt: clock.now, calls: 1, stages: ['a'] });
      const second = await store.apply(
        'r',
        [
          runOp.add('stages', 'a'),
          runOp.add('stages', 'b'),
          runOp.set('lastModel', 'm'),
          runOp.incrIn('inFlightOn', 'x', 2),
          runOp.incrIn('inFlightOn', 'x', -2),
          runOp.addIn('unreleased', 'x', 'u1'),
          runOp.addIn('unreleased', 'x', 'u2'),
          runOp.addIn('unreleased', 'x', 'u2'),
          runOp.removeIn('unreleased', 'x', 'u1'),
          runOp.removeIn('unreleased', 'x', 'nope'),
          runOp.setIn('resident', 'http://r1', 10),
          runOp.setIfUnset('completed', { at: 5, by: 'client' }),
          runOp.setIfUnset('completed', { at: 6, by: 'idle' }),
          runOp.push('cacheActions', { n: 1 }, 2),
          runOp.push('cacheActions', { n: 2 }, 2),
          runOp.push('cacheActions', { n: 3 }, 2),
        ],
      );
      expect(second.results).toEqual([false, true, true, true, true, true, true, false, true, false, true, true, false, true, true, true]);
      expect(second.after).toMatchObject({
        calls: 1,
        stages: ['a', 'b'],
        lastModel: 'm',
        inFlightOn: {},
        unreleased: { x: ['u2'] },
        resident: { 'http://r1': 10 },
        completed: { at: 5, by: 'client' },
        cacheActions: [{ n: 2 }, { n: 3 }],
      });
      const cleared = await store.apply('r', [runOp.set('lastModel', undefined), runOp.removeIn('unreleased', 'x', 'u2')]);
      expect(cleared.after!.lastModel).toBeUndefined();
      expect(cleared.after!.unreleased).toEqual({});
      expect(await store.get('r')).toEqual(cleared.after);
      await close();
    });

    it('changes nothing of an absent run unless asked to create it, and nothing of another record under the same id', async () => {
      const { store, clock, close } = await open();
      expect(await store.apply('ghost', [runOp.incr('calls', 1)])).toEqual({ after: undefined, results: [false] });
      expect(await store.get('ghost')).toBeUndefined();
      const { after } = await store.apply('r', [], { create: { inferred: false, now: clock.now } });
      const stale = await store.apply('r', [runOp.incr('calls', 1)], { ifStartedAt: after!.startedAt - 1 });
      expect(stale.results).toEqual([false]);
      expect((await store.get('r'))!.calls).toBe(0);
      const own = await store.apply('r', [runOp.incr('calls', 1)], { ifStartedAt: after!.startedAt });
      expect(own.after!.calls).toBe(1);
      await close();
    });

    it('knows which runs hold tokens on a replica (the ledger)', async () => {
      const { store, clock, close } = await open();
      const create = { create: { inferred: false, now: clock.now } };
      await store.apply('a', [runOp.setIn('resident', 'r1', 100)], create);
      await store.apply('b', [runOp.setIn('resident', 'r1', 50), runOp.setIn('resident', 'r2', 5)], create);
      expect((await store.runsOn('r1')).map((r) => r.id).sort()).toEqual(['a', 'b']);
      await store.apply('b', [runOp.setIn('resident', 'r1', undefined)]);
      expect((await store.runsOn('r1')).map((r) => r.id)).toEqual(['a']);
      expect((await store.runsOn('r2')).map((r) => r.id)).toEqual(['b']);
      expect(await store.runsOn('r3')).toEqual([]);
      await close();
    });

    it('answers whether another active run holds tokens on a replica as runsOn does, when it offers the shortcut', async () => {
      const { store, clock, close } = await open();
      if (!store.othersActiveOn) return close();
      const create = { create: { inferred: false, now: clock.now } };
      await store.apply('a', [runOp.setIn('resident', 'r1', 100)], create);
      expect(await store.othersActiveOn('r1', 'a')).toBe(false);
      await store.apply('b', [runOp.setIn('resident', 'r1', 50)], create);
      expect(await store.othersActiveOn('r1', 'a')).toBe(true);
      await store.apply('b', [runOp.setIfUnset('completed', { at: clock.now, by: 'client' })]);
      expect(await store.othersActiveOn('r1', 'a')).toBe(false); // a completed run's prefix protects nothing
      expect(await store.othersActiveOn('r2', 'a')).toBe(false);
      await close();
    });

    it('lists the most recently active first', async () => {
      const { store, clock, close } = await open();
      for (const id of ['a', 'b', 'c']) {
        clock.now += 1;
        await store.apply(id, [], { create: { inferred: false, now: clock.now } });
      }
      clock.now += 1;
      await store.apply('a', [runOp.set('lastActivity', clock.now)], { create: { inferred: false, now: clock.now } });
      expect((await store.list(2)).map((r) => r.id)).toEqual(['a', 'c']);
      await close();
    });

    it("lists one tenant's runs when asked, every tenant's when not", async () => {
      const { store, clock, close } = await open();
      for (const [tenant, run] of [['acme', 'x'], ['globex', 'x'], ['acme', 'y']] as const) {
        clock.now += 1;
        await store.apply(`${tenant}/${run}`, [runOp.set('tenant', tenant)], { create: { inferred: false, now: clock.now } });
      }
      expect((await store.list(10, 'acme')).map((r) => r.id)).toEqual(['acme/y', 'acme/x']);
      expect((await store.list(10, 'globex')).map((r) => r.id)).toEqual(['globex/x']);
      expect((await store.list(10)).map((r) => r.id)).toEqual(['acme/y', 'globex/x', 'acme/x']);
      await close();
    });

    it('ends a run idle past the TTL once: the sweep hands it over, and it leaves the ledger', async () => {
      const { store, clock, ended, close } = await open();
      await store.apply('idle', [runOp.setIn('resident', 'r1', 10)], { create: { inferred: false, now: clock.now } });
      clock.now += 60_001;
      await store.sweep(clock.now);
      await store.sweep(clock.now);
      await flush();
      expect(ended.map((e) => `${e.id}:${e.why}`)).toEqual(['idle:idle']);
      expect(ended[0]!.run.completed?.by).toBe('idle');
      expect(await store.get('idle')).toBeUndefined();
      expect(await store.runsOn('r1')).toEqual([]);
      await close();
    });

    it('starts a fresh record when a run calls again past its TTL, ending the old one', async () => {
      const { store, clock, ended, close } = await open();
      const old = await store.apply('r', [runOp.incr('calls', 1)], { create: { inferred: false, now: clock.now } });
      clock.now += 60_001;
      const fresh = await store.apply('r', [runOp.incr('calls', 1)], { create: { inferred: false, now: clock.now } });
      await flush();
      expect(fresh.after).toMatchObject({ calls: 1, startedAt: clock.now });
      expect(ended.map((e) => [e.id, e.why, e.run.startedAt])).toEqual([['r', 'idle', old.after!.startedAt]]);
      await close();
    });

    it('answers a run idle past its TTL as it ended, unchanged, to an operation that does not create', async () => {
      const { store, clock, ended, close } = await open();
      await store.apply('r', [runOp.incr('calls', 1)], { create: { inferred: false, now: clock.now } });
      clock.now += 60_001;
      const late = await store.apply('r', [runOp.incr('calls', 1)]);
      await flush();
      expect(late.results).toEqual([false]);
      expect(late.after).toMatchObject({ calls: 1, completed: { by: 'idle' } });
      expect(ended.map((e) => `${e.id}:${e.why}`)).toEqual(['r:idle']);
      await close();
    });

    it('keeps at most max_runs, handing each evicted run back', async () => {
      const { store, clock, ended, close } = await open(2);
      for (const id of ['a', 'b', 'c']) {
        clock.now += 1;
        await store.apply(id, [], { create: { inferred: false, now: clock.now } });
      }
      await flush();
      expect(ended.map((e) => `${e.id}:${e.why}`)).toEqual(['a:evicted']);
      expect((await store.list(10)).map((r) => r.id)).toEqual(['c', 'b']);
      await close();
    });

    it("keeps two tenants' runs of the same id apart: records, list by tenant, completion", async () => {
      const { store, clock, close } = await open();
      const runs = new Runs(store);
      const begin = (tenant: string | undefined, run: string, stage: string) =>
        runs.begin(run, { runInferred: false, stage, tenant } as Parameters<Runs['begin']>[1], beginOps({ stage } as Parameters<typeof beginOps>[0], 'm', clock.now), clock.now);
      const acme = await begin('acme', 'ticket-1', 'plan');
      await runs.end(acme, endOps({ now: clock.now, backend: 'b', stage: 'plan', contextBefore: 0, workflowDone: false }));
      await begin('acme', 'ticket-1', 'act');
      clock.now += 1;
      await begin('globex', 'ticket-1', 'solve');
      clock.now += 1;
      await begin(undefined, 'plain', 'x');
      expect(acme).toMatchObject({ id: 'acme/ticket-1', tenant: 'acme' });
      expect((await runs.list(10)).map((r) => r.id)).toEqual(['plain', 'globex/ticket-1', 'acme/ticket-1']);
      expect((await runs.list(10, 'acme')).map((r) => [r.tenant, runIdOf(r)])).toEqual([['acme', 'ticket-1']]);
      expect((await runs.list(10, 'globex')).map((r) => r.id)).toEqual(['globex/ticket-1']);
      expect(await runs.list(10, 'initech')).toEqual([]);
      expect(await runs.get('ticket-1', 'acme')).toMatchObject({ tenant: 'acme', calls: 2, stages: ['plan', 'act'] });
      expect(await runs.get('ticket-1', 'globex')).toMatchObject({ tenant: 'globex', calls: 1, stages: ['solve'] });
      expect(await runs.get('ticket-1')).toBeUndefined();
      expect((await runs.complete('ticket-1', clock.now, 'globex')).endedRun).toBe(true);
      expect((await runs.get('ticket-1', 'acme'))!.completed).toBeUndefined();
      expect((await runs.get('ticket-1', 'globex'))!.completed).toMatchObject({ by: 'client' });
      await close();
    });

    it('hands out records as values: a later change to the run does not reach one handed out before', async () => {
      const { store, clock, close } = await open();
      const { after } = await store.apply('r', [runOp.add('stages', 'a'), runOp.setIn('resident', 'http://replica', 10), runOp.incrIn('inFlightOn', 'sim', 1)], { create: { inferred: false, now: clock.now } });
      const read = await store.get('r');
      const { after: next } = await store.apply('r', [runOp.add('stages', 'b'), runOp.setIn('resident', 'http://replica', undefined), runOp.incrIn('inFlightOn', 'sim', -1), runOp.incr('calls', 1)], {});
      expect(next).toMatchObject({ stages: ['a', 'b'], resident: {}, inFlightOn: {}, calls: 1 });
      for (const before of [after, read]) expect(before).toMatchObject({ stages: ['a'], resident: { 'http://replica': 10 }, inFlightOn: { sim: 1 }, calls: 0 });
      expect(await store.get('r')).toEqual(next);
      await close();
    });
  });
}
