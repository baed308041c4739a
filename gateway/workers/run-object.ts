import { DurableObject } from 'cloudflare:workers';
import type { Applied, ApplyOptions, RunOp, RunRecord } from '../../state.js';
import type { DurableObjectState } from './cloudflare.js';
import { directoryOf, type WorkersEnv } from './env.js';
import { RunCell, type RunCall, type RunEntry, type RunReply } from './run-cell.js';
import { RunDirectory } from './run-directory.js';

/** One workflow run's record (`RUNS`, by the run's key: `tenant/run`, or the run id without tenants): every isolate's calls of the run meet here. */
export class RunObject extends DurableObject<WorkersEnv> {
  private readonly cell: RunCell;

  constructor(ctx: DurableObjectState, env: WorkersEnv) {
    super(ctx, env);
    this.cell = new RunCell(ctx.storage, () => directoryOf(env));
  }

  apply(call: RunCall & { ops: readonly RunOp[]; options: ApplyOptions }): Promise<RunReply<Applied>> {
    return this.cell.apply(call);
  }
  get(call: RunCall): Promise<RunReply<RunRecord | undefined>> {
    return this.cell.get(call);
  }
  peek(): Promise<RunRecord | undefined> {
    return this.cell.peek();
  }
  expire(call: RunCall): Promise<RunRecord | undefined> {
    return this.cell.expire(call);
  }
  evict(call: RunCall): Promise<RunRecord | undefined> {
    return this.cell.evict(call);
  }
  async alarm(): Promise<void> {
    await this.cell.forget(Date.now());
  }
}

/** The gateway's directory of runs (`RUN_DIRECTORY`, one object): lists, sweeps, max_runs and the ledger. */
export class RunDirectoryObject extends DurableObject<WorkersEnv> {
  private readonly directory: RunDirectory;

  constructor(ctx: DurableObjectState, env: WorkersEnv) {
    super(ctx, env);
    this.directory = new RunDirectory(ctx.storage);
  }

  note(entry: RunEntry, maxRuns: number): Promise<string[]> {
    return this.directory.note(entry, maxRuns);
  }
  drop(id: string, startedAt?: number): Promise<void> {
    return this.directory.drop(id, startedAt);
  }
  list(limit: number, now: number, ttlMs: number, tenant?: string): Promise<string[]> {
    return this.directory.list(limit, now, ttlMs, tenant);
  }
  runsOn(replica: string): Promise<string[]> {
    return this.directory.runsOn(replica);
  }
  expired(now: number, ttlMs: number): Promise<string[]> {
    return this.directory.expired(now, ttlMs);
  }
}
