import { Hono } from 'hono';
import { notFound } from '../errors.js';
import type { RunRecord } from '../state.js';
import type { Core } from './core.js';

const RECENT = 100;

/**
 * `GET /v1/workflows` (recent runs), `GET /v1/workflows/{run}` (stages, backends, replicas, tokens,
 * cost, cache actions), `POST /v1/workflows/{run}/complete` (release the run's cache; it stays
 * readable among the recent runs until the idle TTL).
 */
export function workflowsApi({ runs, memory }: Pick<Core, 'runs' | 'memory'>): Hono {
  const api = new Hono();
  const found = (run: string, record: RunRecord | undefined) => {
    if (!record) throw notFound(`no workflow run "${run}" (unknown, or expired after the idle TTL)`, 'run_not_found');
    return record;
  };
  api.get('/', async (c) => c.json({ object: 'list', data: (await runs.list(RECENT)).map(summary) }));
  api.get('/:run', async (c) => c.json(detail(found(c.req.param('run'), await runs.get(c.req.param('run'))))));
  api.post('/:run/complete', async (c) => {
    const { run, endedRun } = await runs.complete(c.req.param('run'), Date.now());
    // A run already ended (by the idle TTL, an earlier completion) is answered as it is: its releases are under way.
    if (run && endedRun) memory.ended(run, 'client');
    return c.json(detail(found(c.req.param('run'), run)));
  });
  return api;
}

function summary(run: RunRecord) {
  return {
    id: run.id,
    object: 'workflow.run',
    inferred: run.inferred,
    status: run.completed ? 'completed' : run.inFlight > 0 ? 'running' : run.toolWaitSince !== undefined ? 'waiting_on_tool' : 'idle',
    started_at: iso(run.startedAt),
    last_activity_at: iso(run.lastActivity),
    completed_at: run.completed ? iso(run.completed.at) : null,
    completed_by: run.completed?.by ?? null,
    calls: run.calls,
    failed_calls: run.failedCalls,
    stages: run.stages,
    tokens: { prompt: run.promptTokens, cached: run.cachedTokens, completion: run.completionTokens },
    cost_usd: run.costUsd,
    trace_id: run.traceId ?? null,
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
