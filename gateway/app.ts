import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { asOrlaError, notFound } from '../errors.js';
import type { AdmissionBackend } from '../routing/admission-backend.js';
import { TenantGate, type TenantAdmission, type TenantShare } from '../routing/tenants.js';
import type { StageMapper } from '../routing/types.js';
import type { Core } from './core.js';
import { ANONYMOUS, keyring, type Principal } from './auth.js';
import { Exchange } from './exchange.js';
import type { GatewayMetrics } from './metrics.js';
import type { Platform } from './platform.js';
import { proxyRoute, ROUTE_PATHS, type ProxyDeps } from './proxy.js';
import { backendsApi } from './backends-api.js';
import { workflowsApi } from './workflows-api.js';
import { readiness } from './ready.js';
import type { RouteKind } from './validate.js';
import type { Tracing } from './tracing/types.js';

export interface GatewayDeps<R> {
  config: Config;
  backends: ReadonlyMap<string, AdmissionBackend>;
  mapper: StageMapper;
  core: Pick<Core, 'runs' | 'memory'>;
  platform: Platform<R>;
  metrics: GatewayMetrics;
  log: Logger;
  /** Spans of each call; off when absent. */
  tracing?: Tracing;
  /** In a fleet, this gateway's part of each tenant's limits. */
  tenantShare?: TenantShare | undefined;
  /** Where tenants' limits are held: this process (the default), or a place every isolate shares. */
  tenants?: TenantAdmission;
}

export interface Gateway<R> {
  app: Hono<Env>;
  /**
   * The proxied routes by path, each a whole request: its id, auth, the route, its errors sent. A
   * runtime may call them directly (Node does) rather than through `app`, which serves them too.
   */
  proxied: ReadonlyMap<string, (req: R) => Promise<Response>>;
}

type Env = { Variables: { exchange: Exchange; principal: Principal } };

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The gateway's HTTP surface. Runtime-agnostic: the platform moves the bytes. */
export function createApp<R>(deps: GatewayDeps<R>): Gateway<R> {
  const { config, platform, metrics, log } = deps;
  const app = new Hono<Env>();
  const created = Math.floor(Date.now() / 1000);

  /** Every request's Exchange, under the client's X-Request-Id if it is well-formed. */
  const open = (offered: string | string[] | undefined) =>
    new Exchange(typeof offered === 'string' && REQUEST_ID.test(offered) ? offered : crypto.randomUUID(), metrics, log);
  /** An error as the OpenAI envelope, with the request's id; the exchange ends with it. */
  const sendError = (req: R, exchange: Exchange | undefined, err: unknown): Response => {
    const error = asOrlaError(err);
    if (error.status === 500) log.error({ err }, 'unexpected error');
    exchange?.trace.failed(err);
    exchange?.finish(error.status, undefined, error.message);
    const headers = { ...error.headers(), ...(exchange ? { 'x-request-id': exchange.id } : {}) };
    return platform.send(req, { status: error.status, headers }, error.body());
  };

  const authenticate = keyring(config);
  const tenants = deps.tenants ?? new TenantGate(config.tenants, deps.tenantShare);
  if (tenants.load) metrics.watchTenants(() => tenants.load!());
  const proxyDeps: ProxyDeps<R> = {
    runs: deps.core.runs,
    memory: deps.core.memory,
    tenants,
    onBackgroundError: (err) => log.error({ err }, 'accounting a finished request failed'),
    mapper: deps.mapper,
    backends: deps.backends,
    platform,
    metrics,
    bodyLimitBytes: Math.round(config.server.body_limit_mb * 1024 * 1024),
    gatewayAuth: authenticate !== undefined,
    tracing: deps.tracing,
  };
  const principalOf = (authorization: string | string[] | undefined) =>
    authenticate ? authenticate(typeof authorization === 'string' ? authorization : undefined) : ANONYMOUS;
  const proxied = new Map<string, (req: R) => Promise<Response>>();
  for (const [kind, path] of Object.entries(ROUTE_PATHS) as [RouteKind, string][]) {
    const route = proxyRoute(kind, proxyDeps);
    proxied.set(path, async (req) => {
      const headers = platform.requestHeaders(req);
      const exchange = open(headers['x-request-id']);
      try {
        return await route(req, exchange, principalOf(headers.authorization));
      } catch (err) {
        return sendError(req, exchange, err);
      }
    });
  }
  // First, so that no middleware below runs for them: they do all of it themselves.
  for (const [path, handle] of proxied) app.post(path, (c) => handle(platform.fromContext(c)));

  app.use('*', async (c, next) => {
    const exchange = open(platform.requestHeaders(platform.fromContext(c))['x-request-id']);
    c.set('exchange', exchange);
    c.header('x-request-id', exchange.id);
    await next();
  });
  app.onError((err, c) => sendError(platform.fromContext(c), c.get('exchange'), err));
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

  // Every /v1/ route needs a key once one is configured; /health, /ready and /metrics stay open.
  app.use('/v1/*', async (c, next) => {
    c.set('principal', principalOf(c.req.header('authorization')));
    await next();
  });

  app.get('/v1/models', (c) => c.json({ object: 'list', data: listModels(config, created) }));
  app.route('/v1/backends', backendsApi(deps.backends));
  app.route('/v1/workflows', workflowsApi(deps.core));
  return { app, proxied };
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
