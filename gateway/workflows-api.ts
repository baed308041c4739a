import { Hono } from 'hono';
import { notFound } from '../errors.js';
import type { MemoryManager } from '../memory/manager.js';
import type { RunRecord } from '../sessions/runs.js';

const RECENT = 100;

/**
 * `GET /v1/workflows` (recent runs), `GET /v1/workflows/{run}` (stages, backends, replicas, tokens,
 * cost, cache actions), `POST /v1/workflows/{run}/complete` (release the run's cache; it stays
 * readable among the recent runs until the idle TTL).
 */
export function workflowsApi(memory: MemoryManager): Hono {
  const api = new Hono();
  // One store lookup per request: a run past its idle TTL that the sweep has not reached yet comes
  // back from that lookup once (already ended by the TTL) and is gone from the store right after.
  const found = (run: string, record: RunRecord | undefined) => {
    if (!record) throw notFound(`no workflow run "${run}" (unknown, or expired after the idle TTL)`, 'run_not_found');
    return record;
  };
  api.get('/', (c) => c.json({ object: 'list', data: memory.store.list(RECENT).map(summary) }));
  api.get('/:run', (c) => c.json(detail(found(c.req.param('run'), memory.store.get(c.req.param('run'))))));
  api.post('/:run/complete', (c) => c.json(detail(found(c.req.param('run'), memory.complete(c.req.param('run'))))));
  return api;
}

function summary(run: RunRecord) {
  return {
    id: run.id,
    object: 'workflow.run',
    inferred: run.inferred,
    status: run.completedAt === undefined ? (run.inFlight > 0 ? 'running' : run.waitingOnTool ? 'waiting_on_tool' : 'idle') : 'completed',
    started_at: iso(run.startedAt),
    last_activity_at: iso(run.lastActivity),
    completed_at: run.completedAt === undefined ? null : iso(run.completedAt),
    completed_by: run.completedBy ?? null,
    calls: run.calls,
    failed_calls: run.failedCalls,
    stages: run.stages,
    tokens: { prompt: run.promptTokens, cached: run.cachedTokens, completion: run.completionTokens },
    cost_usd: run.costUsd,
  };
}

function detail(run: RunRecord) {
  return {
    ...summary(run),
    backends: run.backends,
    replicas: run.replicas,
    in_flight: run.inFlight,
    context_tokens: run.contextTokens,
    context_growth: run.contextGrowth,
    resident_tokens: run.resident,
    cache_actions: run.cacheActions.map((a) => ({ ...a, at: iso(a.at) })),
    last_error: run.lastError ? { ...run.lastError, at: iso(run.lastError.at) } : null,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
