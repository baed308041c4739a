import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { asOrlaError, notFound } from '../errors.js';
import type { MemoryManager } from '../memory/manager.js';
import type { Backend } from '../routing/backends.js';
import type { Policies } from '../routing/scheduler/factory.js';
import type { StageMapper } from '../routing/types.js';
import { requireApiKey } from './auth.js';
import { Exchange } from './exchange.js';
import type { GatewayMetrics } from './metrics.js';
import type { Platform } from './platform.js';
import { proxyRoute, ROUTE_PATHS, type ProxyDeps } from './proxy.js';
import { backendsApi } from './backends-api.js';
import { workflowsApi } from './workflows-api.js';
import { readiness } from './ready.js';
import type { RouteKind } from './validate.js';

export interface GatewayDeps {
  config: Config;
  backends: ReadonlyMap<string, Backend>;
  mapper: StageMapper;
  policies: Policies;
  memory: MemoryManager;
  platform: Platform;
  metrics: GatewayMetrics;
  log: Logger;
}

type Env = { Variables: { exchange: Exchange } };

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The gateway's HTTP surface. Runtime-agnostic: the platform moves the bytes. */
export function createApp(deps: GatewayDeps): Hono<Env> {
  const { config, platform, metrics, log } = deps;
  const app = new Hono<Env>();
  const created = Math.floor(Date.now() / 1000);

  const proxied = new Set(Object.values(ROUTE_PATHS));
  app.use('*', async (c, next) => {
    const offered = platform.requestHeaders(c)['x-request-id'];
    const id = typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
    c.set('exchange', new Exchange(id, metrics, log));
    // The proxy routes write their own heads (and errors carry the id): no Hono headers to build.
    if (!proxied.has(c.req.path)) c.header('x-request-id', id);
    await next();
  });

  app.onError((err, c) => {
    const error = asOrlaError(err);
    if (error.status === 500) log.error({ err }, 'unexpected error');
    const exchange = c.get('exchange');
    exchange?.finish(error.status, undefined, error.message);
    const headers = { ...error.headers(), ...(exchange ? { 'x-request-id': exchange.id } : {}) };
    return platform.send(c, { status: error.status, headers }, error.body());
  });

  app.notFound((c) => {
    throw notFound(`unknown route: ${c.req.method} ${c.req.path}`, 'unknown_route');
  });

  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', async (c) => {
    const report = await readiness(deps.backends);
    return c.json(report, report.ready ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    c.header('content-type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  if (config.server.api_keys.length > 0) app.use('/v1/*', requireApiKey(config.server.api_keys));

  app.get('/v1/models', (c) => c.json({ object: 'list', data: listModels(config, created) }));
  app.route('/v1/backends', backendsApi(deps.backends));
  app.route('/v1/workflows', workflowsApi(deps.memory));

  const defaultPolicy = { requestScheduler: deps.policies.request(config.scheduler.request), weight: 1 };
  const stagePolicies = new Map(
    Object.entries(config.stages).map(([name, s]) => [
      name,
      { requestScheduler: deps.policies.request(s.scheduler ?? config.scheduler.request), weight: s.weight },
    ]),
  );
  const proxyDeps: ProxyDeps = {
    queuePolicy: (stage) => stagePolicies.get(stage) ?? defaultPolicy,
    memory: deps.memory,
    mapper: deps.mapper,
    backends: deps.backends,
    platform,
    metrics,
    bodyLimitBytes: Math.round(config.server.body_limit_mb * 1024 * 1024),
    gatewayAuth: config.server.api_keys.length > 0,
  };
  for (const [kind, path] of Object.entries(ROUTE_PATHS) as [RouteKind, string][]) {
    app.post(path, proxyRoute(kind, proxyDeps));
  }
  return app;
}

/** The names a client may put in `model`: `orla:<stage>` for each stage, and each model the stages serve. */
function listModels(config: Config, created: number) {
  const stages = Object.entries(config.stages).map(([stage, s]) => ({
    id: `orla:${stage}`,
    object: 'model',
    created,
    owned_by: 'orla',
    orla: { stage, backend: s.backend ?? null, mapper: s.mapper ?? null, model: s.model ?? null },
  }));
  const models = [...new Set(Object.values(config.stages).flatMap((s) => (s.model ? [s.model] : [])))].map((id) => ({
    id,
    object: 'model',
    created,
    owned_by: 'orla',
  }));
  return [...stages, ...models];
}
