import type { Replica } from '../replica.js';
import type { Ticket } from '../ticket.js';
import { overloaded, type Balance, type ReplicaPicker } from './types.js';

/**
 * A run's calls go to the replica that holds its prefix while it can take them and the load stays
 * balanced; otherwise (no run, a cold run, a real imbalance) the next picker decides.
 */
export class Affinity implements ReplicaPicker {
  readonly name = 'affinity';

  constructor(private readonly balance: Balance, private readonly next: ReplicaPicker) {}

  pick(free: readonly Replica[], all: readonly Replica[], ticket: Ticket): Replica {
    const warm = ticket.affinity === undefined ? undefined : free.find((r) => r.url === ticket.affinity);
    if (warm && warm !== ticket.avoid && !overloaded(warm, free, this.balance)) return warm;
    return this.next.pick(free, all, ticket);
  }
}
