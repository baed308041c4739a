import type { Lease } from '../routing/backend.js';
import { costOf } from '../routing/cost.js';
import { endOps } from '../sessions/runs.js';
import type { Call } from './call.js';
import type { ProxyDeps } from './proxy.js';
import type { Usage } from './usage.js';

/** How a call ended. */
export interface Ending {
  /** The status it ended with: what the client saw, the code of an error event in its stream, or 499 when the client left. */
  status: number;
  /** Nothing in this ending is the engine's doing (the client left, Orla could not write the response): no verdict on the replica. */
  neutral?: boolean;
  usage?: Usage | undefined;
  toolCalls?: boolean;
  /** Why it failed. */
  error?: string | undefined;
}

/** The call's cost at its backend's prices, from the usage the engine reported (a classifier's call is counted under its own stage). */
export const costOfCall = (call: Call, usage: Usage | undefined) => (usage ? costOf(usage, call.backend.config.price) : 0);

/**
 * The call is over: its slot is freed (a 5xx counts against the replica's circuit), its metrics and
 * log line written, and its run accounted (`recordRun`, unless the caller already did). Runs once
 * the response is written: off the client's path.
 */
export function settle<R>(deps: ProxyDeps<R>, call: Call, lease: Lease | undefined, ending: Ending, recorded = false): void {
  const { status, usage } = ending;
  lease?.release(ending.neutral ? 'neutral' : status >= 500 ? 'failure' : 'success', usage ? usage.promptTokens + usage.completionTokens : undefined);
  call.tenantPass?.done();
  const costUsd = costOfCall(call, usage);
  call.exchange.costUsd = usage ? costUsd : undefined;
  call.exchange.finish(status, usage, ending.error);
  call.trace.ended(call, lease, ending, costUsd);
  if (!recorded) recordRun(deps, call, lease, ending);
}

/**
 * The run's part of the call's end: one store operation, sent at once, before the response's last
 * bytes leave (its answer is not waited for), so that the run's next call, on whichever gateway of
 * a fleet, finds this one accounted. Memory carries out what the call's end leads to once the
 * store has answered.
 */
export function recordRun<R>(deps: ProxyDeps<R>, call: Call, lease: Lease | undefined, ending: Ending): void {
  const { status, usage } = ending;
  const ok = !ending.neutral && status < 400;
  const costUsd = costOfCall(call, usage);
  const { run, plan } = call;
  if (!run || !plan) return;
  const now = Date.now();
  const served = ok && lease
    ? { replica: lease.replica.url, promptTokens: usage?.promptTokens ?? 0, cachedTokens: usage?.cachedTokens ?? 0, completionTokens: usage?.completionTokens ?? 0, costUsd: costUsd + call.mappingCostUsd, toolCalls: ending.toolCalls ?? false }
    : undefined;
  const memory = deps.memory.endOps(plan, { replica: served?.replica, tokens: served ? served.promptTokens + served.completionTokens : 0, toolCalls: served?.toolCalls ?? false }, now);
  const failure = ok || ending.neutral ? undefined : { status, message: ending.error ?? `the engine answered ${status}` };
  const ops = memory.ops;
  ops.push(...endOps({ now, backend: call.backend.name, stage: call.stage, served, failure, contextBefore: plan.contextBefore, workflowDone: plan.workflowDone }));
  deps.runs
    .end(run, ops)
    .then(({ after, endedRun }) => deps.memory.after(plan, memory.releases, after, endedRun))
    .catch(deps.onBackgroundError);
}
