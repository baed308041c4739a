import type { RunRecord } from '../sessions/runs.js';

/**
 * What Orla believes each replica still holds: per replica URL, the runs with tokens cached there
 * (engines' usage gauges leave out cached blocks no request is using). Records, not ids: a run id
 * that comes back after its idle TTL is a new record, and the old one's late release must not touch
 * it. A run the store has dropped leaves the ledger for good: a call of its still in flight must not
 * put it back, where nothing would ever take it out (and it would block global flushes there).
 */
export class Ledger {
  private readonly byReplica = new Map<string, Set<RunRecord>>();
  private readonly dropped = new WeakSet<RunRecord>();

  /** The run's tokens on a replica (a dropped run's own count changes, and nothing else). */
  setResident(run: RunRecord, replica: string, tokens: number): void {
    run.resident[replica] = tokens;
    if (this.dropped.has(run)) return;
    let runs = this.byReplica.get(replica);
    if (!runs) this.byReplica.set(replica, (runs = new Set()));
    if (tokens > 0) runs.add(run);
    else runs.delete(run);
  }

  /** The store dropped the run. */
  drop(run: RunRecord): void {
    this.dropped.add(run);
    for (const runs of this.byReplica.values()) runs.delete(run);
  }

  isDropped(run: RunRecord): boolean {
    return this.dropped.has(run);
  }

  /** Runs holding tokens on a replica. */
  runsOn(replica: string): RunRecord[] {
    return [...(this.byReplica.get(replica) ?? [])];
  }

  /** Whether a run other than `run` holds tokens on a replica. */
  othersOn(replica: string, run: RunRecord): boolean {
    const runs = this.byReplica.get(replica);
    return runs !== undefined && runs.size > (runs.has(run) ? 1 : 0);
  }
}
