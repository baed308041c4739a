import { runOp, type CacheActionRecord, type RunOp } from '../state.js';
import type { CachePlan } from './plan.js';
import type { CacheDecision, CachePolicy } from './types.js';

/** How a call ended, as memory needs it. */
export interface CallOutcome {
  /** Where it ran, when it succeeded. */
  replica?: string | undefined;
  /** Prompt and completion tokens: the prefix the replica now holds of the run. */
  tokens: number;
  toolCalls: boolean;
}

/** A release memory owes once the call's end is recorded: the run on these replicas of a backend. */
export interface Release {
  backend: string;
  replicas: string[];
  reason: string;
}

/** The call's final decision, now that its tool calls are known. */
export function finalDecision(plan: CachePlan, outcome: CallOutcome, policy: CachePolicy): CacheDecision {
  if (plan.workflowDone || outcome.replica === undefined) return plan.decision;
  return policy.decide({ event: 'call', hint: plan.hint, toolCalls: outcome.toolCalls, deferred: plan.deferred !== undefined });
}

/**
 * Memory's part of a call's end (applied with the run's own accounting, in one store operation),
 * and the releases it leads to: the ledger learns what the replica holds now; a flush put off over a
 * tool turn is kept per stage until the loop's last turn, which releases it with its own replica.
 */
export function endOps(plan: CachePlan, outcome: CallOutcome, decision: CacheDecision, now: number): { ops: RunOp[]; releases: Release[] } {
  const ops: RunOp[] = [runOp.incrIn('inFlightOn', plan.backend, -1)];
  for (const replica of plan.tagged) ops.push(runOp.addIn('unreleased', plan.backend, replica));
  const { replica } = outcome;
  if (replica === undefined) return { ops, releases: [] };
  ops.push(runOp.setIn('resident', replica, outcome.tokens > 0 ? outcome.tokens : undefined));
  if (outcome.tokens > 0) ops.push(runOp.addIn('unreleased', plan.backend, replica));
  if (plan.affinity !== undefined && plan.affinity !== replica) {
    const moved: CacheActionRecord = { at: now, backend: plan.backend, replica, action: 'affinity_move', result: 'ok', reason: 'bounded-load', detail: `from ${plan.affinity}` };
    ops.push(runOp.push('cacheActions', moved, MAX_ACTIONS_KEPT));
  }
  const deferred = plan.deferred;
  if (decision === 'defer') {
    const replicas = deferred && deferred.backend === plan.backend ? [...new Set([...deferred.replicas, replica])] : [replica];
    const reason = plan.hint === 'flush' ? plan.reason : (deferred?.reason ?? plan.reason);
    ops.push(runOp.setIn('deferredFlush', plan.stage, { reason, backend: plan.backend, replicas }));
    return { ops, releases: [] };
  }
  if (decision !== 'release' || plan.workflowDone) return { ops, releases: [] };
  const releases: Release[] = [{ backend: plan.backend, replicas: [replica], reason: plan.hint === 'flush' || !deferred ? plan.reason : deferred.reason }];
  if (deferred) {
    ops.push(runOp.setIn('deferredFlush', plan.stage, undefined));
    const others = deferred.replicas.filter((r) => deferred.backend !== plan.backend || r !== replica);
    if (others.length > 0) releases.push({ backend: deferred.backend, replicas: others, reason: deferred.reason });
  }
  return { ops, releases };
}

export const MAX_ACTIONS_KEPT = 50;
