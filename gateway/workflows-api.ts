import { Hono } from 'hono';
import { notFound } from '../errors.js';
import { runIdOf } from '../sessions/runs.js';
import type { RunRecord } from '../state.js';
import type { AuthEnv, Principal } from './auth.js';
import type { Core } from './core.js';

const RECENT = 100;

/**
 * `GET /v1/workflows` (recent runs), `GET /v1/workflows/{run}` (stages, backends, replicas, tokens,
 * cost, cache actions), `POST /v1/workflows/{run}/complete` (release the run's cache; it stays
 * readable among the recent runs until the idle TTL). A key sees only its tenant's runs (another
 * tenant's is a 404, as an unknown one); an admin key lists every tenant's and names one's run with
 * `?tenant=`.
 */
export function workflowsApi({ runs, memory }: Pick<Core, 'runs' | 'memory'>): Hono<AuthEnv> {
  const api = new Hono<AuthEnv>();
  const found = (run: string, record: RunRecord | undefined) => {
    if (!record) throw notFound(`no workflow run "${run}" (unknown, or expired after the idle TTL)`, 'run_not_found');
    return record;
  };
  /** The tenant whose runs a request names: its own, or the one an admin asks for. */
  const tenantOf = (principal: Principal, asked: string | undefined) => (principal.admin && asked !== undefined ? asked : principal.tenant);
  api.get('/', async (c) => {
    const principal = c.get('principal');
    const tenant = principal.admin ? c.req.query('tenant') : principal.tenant;
    return c.json({ object: 'list', data: (await runs.list(RECENT, tenant)).map(summary) });
  });
  api.get('/:run', async (c) => {
    const run = c.req.param('run');
    return c.json(detail(found(run, await runs.get(run, tenantOf(c.get('principal'), c.req.query('tenant'))))));
  });
  api.post('/:run/complete', async (c) => {
    const id = c.req.param('run');
    const { run, endedRun } = await runs.complete(id, Date.now(), tenantOf(c.get('principal'), c.req.query('tenant')));
    // A run already ended (by the idle TTL, an earlier completion) is answered as it is: its releases are under way.
    if (run && endedRun) memory.ended(run, 'client');
    return c.json(detail(found(id, run)));
  });
  return api;
}

function summary(run: RunRecord) {
  return {
    id: runIdOf(run),
    object: 'workflow.run',
    tenant: run.tenant ?? null,
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
