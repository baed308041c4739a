import { describe, expect, it } from 'vitest';
import type { OnExpired, RunRecord, RunStore } from '../../state.js';

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
      const first = await store.apply('r', [{ op: 'incr', field: 'calls', by: 1 }, { op: 'add', field: 'stages', item: 'a' }], { create: { inferred: true, now: clock.now } });
      expect(first.after).toMatchObject({ id: 'r', inferred: true, startedAt: clock.now, calls: 1, stages: ['a'] });
      const second = await store.apply(
        'r',
        [
          { op: 'add', field: 'stages', item: 'a' },
          { op: 'add', field: 'stages', item: 'b' },
          { op: 'set', field: 'lastModel', value: 'm' },
          { op: 'incrIn', field: 'inFlightOn', key: 'x', by: 2 },
          { op: 'incrIn', field: 'inFlightOn', key: 'x', by: -2 },
          { op: 'addIn', field: 'unreleased', key: 'x', item: 'u1' },
          { op: 'addIn', field: 'unreleased', key: 'x', item: 'u2' },
          { op: 'removeIn', field: 'unreleased', key: 'x', item: 'u1' },
          { op: 'removeIn', field: 'unreleased', key: 'x', item: 'nope' },
          { op: 'setIn', field: 'resident', key: 'http://r1', value: 10 },
          { op: 'setIfUnset', field: 'completed', value: { at: 5, by: 'client' } },
          { op: 'setIfUnset', field: 'completed', value: { at: 6, by: 'idle' } },
          { op: 'push', field: 'cacheActions', item: { n: 1 }, keep: 2 },
          { op: 'push', field: 'cacheActions', item: { n: 2 }, keep: 2 },
          { op: 'push', field: 'cacheActions', item: { n: 3 }, keep: 2 },
        ],
      );
      expect(second.results).toEqual([false, true, true, true, true, true, true, true, false, true, true, false, true, true, true]);
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
      const cleared = await store.apply('r', [{ op: 'set', field: 'lastModel', value: undefined }, { op: 'removeIn', field: 'unreleased', key: 'x', item: 'u2' }]);
      expect(cleared.after!.lastModel).toBeUndefined();
      expect(cleared.after!.unreleased).toEqual({});
      expect(await store.get('r')).toEqual(cleared.after);
      await close();
    });

    it('changes nothing of an absent run unless asked to create it, and nothing of another record under the same id', async () => {
      const { store, clock, close } = await open();
      expect(await store.apply('ghost', [{ op: 'incr', field: 'calls', by: 1 }])).toEqual({ after: undefined, results: [false] });
      expect(await store.get('ghost')).toBeUndefined();
      const { after } = await store.apply('r', [], { create: { inferred: false, now: clock.now } });
      const stale = await store.apply('r', [{ op: 'incr', field: 'calls', by: 1 }], { ifStartedAt: after!.startedAt - 1 });
      expect(stale.results).toEqual([false]);
      expect((await store.get('r'))!.calls).toBe(0);
      const own = await store.apply('r', [{ op: 'incr', field: 'calls', by: 1 }], { ifStartedAt: after!.startedAt });
      expect(own.after!.calls).toBe(1);
      await close();
    });

    it('knows which runs hold tokens on a replica (the ledger)', async () => {
      const { store, clock, close } = await open();
      const create = { create: { inferred: false, now: clock.now } };
      await store.apply('a', [{ op: 'setIn', field: 'resident', key: 'r1', value: 100 }], create);
      await store.apply('b', [{ op: 'setIn', field: 'resident', key: 'r1', value: 50 }, { op: 'setIn', field: 'resident', key: 'r2', value: 5 }], create);
      expect((await store.runsOn('r1')).map((r) => r.id).sort()).toEqual(['a', 'b']);
      await store.apply('b', [{ op: 'setIn', field: 'resident', key: 'r1', value: undefined }]);
      expect((await store.runsOn('r1')).map((r) => r.id)).toEqual(['a']);
      expect((await store.runsOn('r2')).map((r) => r.id)).toEqual(['b']);
      expect(await store.runsOn('r3')).toEqual([]);
      await close();
    });

    it('answers whether another active run holds tokens on a replica as runsOn does, when it offers the shortcut', async () => {
      const { store, clock, close } = await open();
      if (!store.othersActiveOn) return close();
      const create = { create: { inferred: false, now: clock.now } };
      await store.apply('a', [{ op: 'setIn', field: 'resident', key: 'r1', value: 100 }], create);
      expect(await store.othersActiveOn('r1', 'a')).toBe(false);
      await store.apply('b', [{ op: 'setIn', field: 'resident', key: 'r1', value: 50 }], create);
      expect(await store.othersActiveOn('r1', 'a')).toBe(true);
      await store.apply('b', [{ op: 'setIfUnset', field: 'completed', value: { at: clock.now, by: 'client' } }]);
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
      await store.apply('a', [{ op: 'set', field: 'lastActivity', value: clock.now }], { create: { inferred: false, now: clock.now } });
      expect((await store.list(2)).map((r) => r.id)).toEqual(['a', 'c']);
      await close();
    });

    it('ends a run idle past the TTL once: the sweep hands it over, and it leaves the ledger', async () => {
      const { store, clock, ended, close } = await open();
      await store.apply('idle', [{ op: 'setIn', field: 'resident', key: 'r1', value: 10 }], { create: { inferred: false, now: clock.now } });
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
      const old = await store.apply('r', [{ op: 'incr', field: 'calls', by: 1 }], { create: { inferred: false, now: clock.now } });
      clock.now += 60_001;
      const fresh = await store.apply('r', [{ op: 'incr', field: 'calls', by: 1 }], { create: { inferred: false, now: clock.now } });
      await flush();
      expect(fresh.after).toMatchObject({ calls: 1, startedAt: clock.now });
      expect(ended.map((e) => [e.id, e.why, e.run.startedAt])).toEqual([['r', 'idle', old.after!.startedAt]]);
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

    it('hands out copies: changing one changes nothing in the store', async () => {
      const { store, clock, close } = await open();
      const { after } = await store.apply('r', [{ op: 'add', field: 'stages', item: 'a' }], { create: { inferred: false, now: clock.now } });
      after!.stages.push('mutated');
      after!.calls = 99;
      expect(await store.get('r')).toMatchObject({ stages: ['a'], calls: 0 });
      await close();
    });
  });
}
