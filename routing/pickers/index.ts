import { Affinity } from './affinity.js';
import { LeastLoaded } from './least-loaded.js';
import { PrefixHash } from './prefix-hash.js';
import type { Balance, ReplicaPicker } from './types.js';

export type { Balance, ReplicaPicker } from './types.js';

/** A backend's replica choice: affinity, then prefix hash, then least loaded; least loaded alone with affinity off. */
export function replicaPicker(options: { affinity: boolean; balance: Balance }): ReplicaPicker {
  const leastLoaded = new LeastLoaded();
  if (!options.affinity) return leastLoaded;
  return new Affinity(options.balance, new PrefixHash(options.balance, leastLoaded));
}
