import { runOp, type RunOp, type RunRecord } from '../state.js';
import type { CacheHint } from '../identity.js';
import type { CacheDecision, CachePolicy } from './types.js';

/** What memory decided for one call, from its run as the call found it. */
export interface CachePlan {
  run: string;
  /** The record the call began on (a later one under the same id is another run). */
  startedAt: number;
  backend: string;
  /** The call's stage (the requested one, else the configured one): a flush hint waits out its agent loop. */
  stage: string;
  hint: CacheHint;
  workflowDone: boolean;
  /** What happens once the call completes, as planned before its tool calls are known. */
  decision: CacheDecision;
  /** Why, for X-Orla-Cache. */
  reason: string;
  /** The replica holding the run's prefix on this backend, if any (affinity). */
  affinity: string | undefined;
  /** The backends (and their replicas) the run is leaving, released under the switch rule. */
  leaving: { backend: string; replicas: readonly string[] }[];
  /** A flush of this stage put off earlier, waiting for its agent loop to end. */
  deferred: RunRecord['deferredFlush'][string] | undefined;
  /** The run's prompt length before this call. */
  contextBefore: number;
  /** The replicas this call's attempts were tagged on (a slot, a session): the run may hold something there. */
  tagged: string[];
  /** What the engine's adapter asked to hear when the call's requests end (a slot free again). */
  ended: (() => void)[];
  /** The call's trace (opaque here): what its releases report as their cause. */
  cause?: unknown;
}

export interface PlanInput {
  /** The run as the call began in it (the call counted in; nothing else changed since its last call). */
  run: RunRecord;
  backend: string;
  stage: string;
  configuredStage: string;
  /** X-Orla-Cache of the request. */
  cache: CacheHint | undefined;
  workflowDone: boolean;
  /** The call's trace (opaque to memory), passed on to the releases it sets off. */
  cause?: unknown;
}

/** Memory's part of a call's start: the call is in flight on its backend (made once per backend: ops are never changed). */
export function beginOps(backend: string): readonly RunOp[] {
  let ops = BEGIN_OPS.get(backend);
  if (!ops) BEGIN_OPS.set(backend, (ops = [runOp.incrIn('inFlightOn', backend, 1)]));
  return ops;
}
const BEGIN_OPS = new Map<string, readonly RunOp[]>();

/**
 * The cache plan of a call. The switch rule: a run whose call goes to another backend no longer needs
 * its prefix on the old one, wherever it still holds something and has no call in flight (a sibling
 * stage still running there keeps it).
 */
export function planCall(input: PlanInput, policy: CachePolicy, stageHints: ReadonlyMap<string, CacheHint>, affinityOn: boolean): CachePlan {
  const { run, backend } = input;
  const hint = input.cache ?? stageHints.get(input.configuredStage) ?? 'auto';
  const deferred = run.deferredFlush[input.stage];
  let decision: CacheDecision;
  let reason: string;
  if (input.workflowDone) [decision, reason] = [policy.decide({ event: 'end', hint, toolCalls: false, deferred: false }), 'workflow-done'];
  else {
    decision = policy.decide({ event: 'call', hint, toolCalls: false, deferred: deferred !== undefined });
    const byDeferral = deferred !== undefined && decision !== policy.decide({ event: 'call', hint, toolCalls: false, deferred: false });
    reason = hint !== 'auto' ? `hint=${hint}` : byDeferral ? deferred.reason : `policy=${policy.name}`;
  }
  const leaving: CachePlan['leaving'] = [];
  if (policy.decide({ event: 'switch', hint: 'auto', toolCalls: false, deferred: false }) === 'release') {
    for (const name in run.unreleased) {
      const replicas = run.unreleased[name]!;
      if (name !== backend && replicas.length > 0 && !run.inFlightOn[name]) leaving.push({ backend: name, replicas });
    }
  }
  return {
    run: run.id,
    startedAt: run.startedAt,
    backend,
    stage: input.stage,
    hint,
    workflowDone: input.workflowDone,
    decision,
    reason,
    affinity: affinityOn && run.lastBackend === backend ? run.lastReplica : undefined,
    leaving,
    deferred,
    contextBefore: run.contextTokens,
    tagged: [],
    ended: [],
    cause: input.cause,
  };
}

/** X-Orla-Cache: the action and why, with where the call landed relative to the run's prefix. */
export function cacheHeader(plan: CachePlan, replica: string, decision: CacheDecision = plan.decision): string {
  const placement = plan.affinity === undefined ? 'new' : plan.affinity === replica ? 'hit' : 'moved';
  let value = decision === 'defer' ? `preserve; ${plan.reason}; deferred=tool-calls` : `${decision}; ${plan.reason}`;
  value += `; replica=${placement}`;
  if (plan.leaving.length > 0) value += `; released=${plan.leaving.map((l) => l.backend).join(',')}`;
  return value;
}
