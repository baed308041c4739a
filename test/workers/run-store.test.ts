import { describe, expect, it } from 'vitest';
import { runOp } from '../../state.js';
import { DurableObjectRunStore } from '../../gateway/workers/run-store.js';
import { RunCell } from '../../gateway/workers/run-cell.js';
import { RunDirectory } from '../../gateway/workers/run-directory.js';
import { storeContract } from '../sessions/store-contract.js';
import { MemoryStorage, rpc } from './fake-objects.js';

// The Durable Object run store's logic (one object per run, a directory object), each object's
// storage and RPC simulated in this process, against the contract every store must pass. The same
// store runs in workerd in worker.test.ts.

storeContract('Durable Object', async ({ idleTtlMs, maxRuns, onExpired, clock }) => {
  const directory = rpc(new RunDirectory(new MemoryStorage()));
  const cells = new Map<string, RunCell>();
  const run = (id: string) => {
    let cell = cells.get(id);
    if (!cell) cells.set(id, (cell = new RunCell(new MemoryStorage(), () => directory)));
    return rpc(cell);
  };
  return new DurableObjectRunStore({ run, directory: () => directory, idleTtlMs, maxRuns, onExpired, now: () => clock.now });
});

describe('the Durable Object run store when its directory fails', () => {
  const world = () => {
    const directory = new RunDirectory(new MemoryStorage());
    let failNotes = 0;
    const flaky = rpc({
      note: (...args: Parameters<RunDirectory['note']>) => (failNotes-- > 0 ? Promise.reject(new Error('overloaded')) : directory.note(...args)),
      drop: (...args: Parameters<RunDirectory['drop']>) => directory.drop(...args),
      list: (...args: Parameters<RunDirectory['list']>) => directory.list(...args),
      runsOn: (...args: Parameters<RunDirectory['runsOn']>) => directory.runsOn(...args),
      expired: (...args: Parameters<RunDirectory['expired']>) => directory.expired(...args),
    });
    const cells = new Map<string, RunCell>();
    const run = (id: string) => {
      let cell = cells.get(id);
      if (!cell) cells.set(id, (cell = new RunCell(new MemoryStorage(), () => flaky)));
      return rpc(cell);
    };
    const clock = { now: 1_000 };
    const store = new DurableObjectRunStore({ run, directory: () => flaky, idleTtlMs: 60_000, maxRuns: 100, onExpired: () => {}, now: () => clock.now });
    return { store, directory, clock, cells, failNext: (n: number) => (failNotes = n) };
  };

  it('a call stands when the directory cannot be told, and the directory hears of the run with its next change', async () => {
    const { store, clock, failNext } = world();
    failNext(1);
    const { after } = await store.apply('r', [runOp.incr('calls', 1)], { create: { inferred: false, now: clock.now } });
    expect(after!.calls).toBe(1);
    expect(await store.list(10)).toEqual([]);
    clock.now += 1;
    await store.apply('r', [runOp.set('lastActivity', clock.now)]);
    expect((await store.list(10)).map((r) => r.id)).toEqual(['r']);
  });

  it('the sweep drops an entry whose run is gone', async () => {
    const { store, directory, clock } = world();
    await directory.note({ id: 'ghost', startedAt: clock.now, lastActivity: clock.now, ttlFrom: clock.now, rev: 1, replicas: ['r1'] }, 100);
    clock.now += 60_001;
    await store.sweep(clock.now);
    expect(await directory.expired(clock.now, 60_000)).toEqual([]);
    expect(await directory.runsOn('r1')).toEqual([]);
  });
});
