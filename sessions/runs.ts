import type { Identity } from './identity.js';
import { runOp, type OnExpired, type RunOp, type RunRecord, type RunStore } from '../state.js';

// The runs' lifecycle and accounting, as the operations each moment applies to a run's record. The
// request path applies one list of them on the way in (`begin`) and one on the way out (`end`);
// other steps may add their own operations to those lists (memory/ its cache facts).

/** What the start of a call changes in its run. */
export function beginOps(identity: Identity, model: string | undefined, now: number): RunOp[] {
  const ops: RunOp[] = [CALLED, STARTED, runOp.set('lastActivity', now), ACTIVE];
  if (model !== undefined) ops.push(runOp.set('lastModel', model));
  if (identity.stage !== undefined) ops.push(runOp.add('stages', identity.stage));
  return ops;
}

/** How a call ended. */
export interface CallEnd {
  now: number;
  backend: string;
  stage: string;
  /** Where it ran and what it used, when it succeeded. */
  served?: { replica: string; promptTokens: number; cachedTokens: number; completionTokens: number; costUsd: number; toolCalls: boolean };
  failure?: { status: number; message: string };
  /** The run's prompt length before this call (for the context's growth). */
  contextBefore: number;
  /** X-Orla-Workflow-Done: the run ends with this call, even when it failed. */
  workflowDone: boolean;
}

/** What the end of a call changes in its run. With `workflowDone`, the op whose result says whether this call ended the run is last. */
export function endOps(end: CallEnd): RunOp[] {
  const ops: RunOp[] = [ENDED, runOp.set('lastActivity', end.now)];
  if (end.failure) ops.push(FAILED, runOp.set('lastError', { at: end.now, stage: end.stage, backend: end.backend, ...end.failure }));
  const served = end.served;
  if (served) {
    ops.push(
      runOp.set('lastBackend', end.backend),
      runOp.set('lastReplica', served.replica),
      runOp.add('backends', end.backend),
      runOp.add('replicas', served.replica),
      runOp.set('contextTokens', served.promptTokens),
      runOp.set('contextGrowth', served.promptTokens - end.contextBefore),
      runOp.incr('promptTokens', served.promptTokens),
      runOp.incr('cachedTokens', served.cachedTokens),
      runOp.incr('completionTokens', served.completionTokens),
      runOp.incr('costUsd', served.costUsd),
    );
  }
  // The tool the run waited on has answered (this call), and maybe it waits on the next one.
  ops.push(runOp.set('toolWaitSince', served?.toolCalls ? end.now : undefined));
  if (end.workflowDone) ops.push(completeOp('workflow-done', end.now));
  return ops;
}

/** Ends the run, once: its result says whether this op is the one that ended it. */
export const completeOp = (by: NonNullable<RunRecord['completed']>['by'], now: number): RunOp => runOp.setIfUnset('completed', { at: now, by });

// The operations every call makes, made once (ops are read, never changed).
const CALLED = runOp.incr('calls', 1);
const STARTED = runOp.incr('inFlight', 1);
const ENDED = runOp.incr('inFlight', -1);
const FAILED = runOp.incr('failedCalls', 1);
const ACTIVE = runOp.set('completed', undefined); // a call makes an ended run active again

/** The runs of a gateway: their store, and what happens when one is dropped. */
export class Runs {
  constructor(readonly store: RunStore) {}

  /**
   * The way in: one store operation, creating the run on first sight. The run comes back with the
   * call counted in; nothing else in it has changed since the call's previous one ended.
   */
  async begin(run: string, identity: Identity, ops: readonly RunOp[], now: number): Promise<RunRecord> {
    const tenant = identity.tenant === undefined ? ops : [runOp.set('tenant', identity.tenant), ...ops];
    return (await this.store.apply(runKey(identity.tenant, run), tenant, { create: { inferred: identity.runInferred, now } })).after!;
  }

  /** The way out: one store operation, on the record the call began on (a later one under the same id is another run). */
  async end(run: RunRecord, ops: readonly RunOp[]) {
    const { after, results } = await this.store.apply(run.id, ops, { ifStartedAt: run.startedAt });
    return { after, endedRun: after !== undefined && ops.at(-1)?.op === 'setIfUnset' && results.at(-1) === true };
  }

  /** POST /v1/workflows/{run}/complete: `endedRun` when this call is the one that ended it. */
  async complete(id: string, now: number, tenant?: string) {
    const { after, results } = await this.store.apply(runKey(tenant, id), [completeOp('client', now)]);
    return { run: after, endedRun: results[0] === true };
  }

  get(id: string, tenant?: string): Promise<RunRecord | undefined> {
    return this.store.get(runKey(tenant, id));
  }

  /** The most recently active runs: of one tenant, or (undefined) of all. */
  list(limit: number, tenant?: string): Promise<RunRecord[]> {
    return this.store.list(limit, tenant);
  }
}

export type { OnExpired };

/**
 * A run's key in the store: the client's run id within its tenant. Tenants' names are plain (letters,
 * digits, `_ . -`), so `acme/ticket-1` and `globex/ticket-1` never meet; without tenants, the id alone.
 */
export const runKey = (tenant: string | undefined, run: string) => (tenant === undefined ? run : `${tenant}/${run}`);

/** The run id the client gave, from a record's key. */
export const runIdOf = (run: RunRecord) => (run.tenant === undefined ? run.id : run.id.slice(run.tenant.length + 1));
