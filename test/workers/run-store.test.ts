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
