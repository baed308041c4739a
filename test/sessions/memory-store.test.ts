import { MemoryRunStore } from '../../sessions/memory-store.js';
import { storeContract } from './store-contract.js';

storeContract('in-memory', async ({ idleTtlMs, maxRuns, onExpired, clock }) => new MemoryRunStore({ idleTtlMs, maxRuns, onExpired, now: () => clock.now }));
