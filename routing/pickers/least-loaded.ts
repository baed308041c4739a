import type { Replica } from '../replica.js';
import type { Ticket } from '../ticket.js';
import { load, type ReplicaPicker } from './types.js';

/** The replica with the fewest requests in flight (the fleet's, in a fleet), a retry's failed one last, ties rotating. */
export class LeastLoaded implements ReplicaPicker {
  readonly name = 'least-loaded';
  private rotate = 0;

  pick(free: readonly Replica[], _all: readonly Replica[], ticket: Ticket): Replica {
    const avoid = ticket.avoid;
    const count = free.length;
    let best = free[this.rotate % count]!;
    for (let i = 1; i < count; i++) {
      const r = free[(this.rotate + i) % count]!;
      if ((best === avoid && r !== avoid) || (r !== avoid && load(r) < load(best))) best = r;
    }
    this.rotate = (this.rotate + 1) % Math.max(1, count);
    return best;
  }
}
