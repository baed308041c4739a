import { badRequest } from '../errors.js';
import type { Memory } from '../memory/index.js';
import type { AdmissionBackend } from '../routing/admission-backend.js';
import { chooseTarget } from '../routing/reroute.js';
import type { TenantAdmission } from '../routing/tenants.js';
import type { MapRequest, MapTrace, StageMapper } from '../routing/types.js';
import { identify } from '../sessions/identity.js';
import type { Identity } from '../identity.js';
import type { ClientGone } from '../cancel.js';
import { beginOps, type Runs } from '../sessions/runs.js';
import { toEngineRequest } from '../upstream/engines/request.js';
import type { Call } from './call.js';
import type { Principal } from './auth.js';
import type { Exchange } from './exchange.js';
import { forward } from './forward.js';
import type { GatewayMetrics } from './metrics.js';
import type { Platform } from './platform.js';
import { readRequest } from './request.js';
import type { RouteKind } from './validate.js';
// From types.js, not index.js: index.js imports the SDK (lazily), and the Worker's bundle must not carry it.
import { NO_TRACING, type Tracing } from './tracing/types.js';

export interface ProxyDeps<R> {
  mapper: StageMapper;
  backends: ReadonlyMap<string, AdmissionBackend>;
  runs: Runs;
  memory: Memory;
  tenants: TenantAdmission;
  platform: Platform<R>;
  metrics: GatewayMetrics;
  bodyLimitBytes: number;
  /** With gateway auth on, the client's Authorization is Orla's key and never goes upstream. */
  gatewayAuth: boolean;
  /** Where accounting that fails off the client's path is reported. */
  onBackgroundError(err: unknown): void;
  /** Spans of each call (gateway/tracing/); off when absent. */
  tracing?: Tracing;
}

export const ROUTE_PATHS: Record<RouteKind, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  responses: '/v1/responses',
  embeddings: '/v1/embeddings',
};

/**
 * One OpenAI route, along the request path: the client's request (gateway) → who it belongs to
 * (sessions) → where it goes (routing) → its run's state, one store operation (sessions) → its
 * cache plan (memory) → the engine's request (upstream) → dispatch, the response and its settlement
 * (forward.ts). Errors are thrown, for the caller to send.
 */
export function proxyRoute<R>(kind: RouteKind, deps: ProxyDeps<R>) {
  const path = ROUTE_PATHS[kind];
  const tracing = deps.tracing ?? NO_TRACING;
  return async (req: R, exchange: Exchange, principal: Principal): Promise<Response> => {
    exchange.route = path;
    const incoming = await readRequest(kind, deps.platform, req, deps.bodyLimitBytes);
    const { body } = incoming;
    const identity = identify(incoming.orla, body);
    identity.tenant = principal.tenant;
    exchange.identify(identity);
    const trace = (exchange.trace = tracing.call(kind, exchange, identity, incoming)); // a failure from here on ends it (app.ts)

    const gone = deps.platform.clientGone(req);
    const deadlineAt = identity.deadlineMs === undefined ? undefined : exchange.started + identity.deadlineMs;
    const mapped = await deps.mapper.map(new MapCall(identity, body, deadlineAt, trace.mapping, gone));
    const { target } = chooseTarget(mapped, deps.backends);
    trace.mapped(mapped, target);
    const backend = deps.backends.get(target.backend)!;
    exchange.stage = target.stage;
    exchange.backend = backend.name;
    const model = target.model ?? body.model;
    if (typeof model !== 'string') throw badRequest('model: is required (or name a stage whose config sets a model)', 'model');

    const stage = identity.stage ?? target.stage;
    let run: Call['run'];
    let plan: Call['plan'];
    if (identity.run !== undefined) {
      const now = Date.now();
      const ops = beginOps(identity, model, now);
      ops.push(...deps.memory.beginOps(backend.name), ...trace.runOps); // not concat(): 3x as long, 6x with a frozen list
      run = await deps.runs.begin(identity.run, identity, ops, now);
      plan = deps.memory.plan({ run, backend: backend.name, stage, configuredStage: target.stage, cache: identity.cache, workflowDone: identity.workflowDone, cause: trace.cause }, now);
    }
    const { stripUsageChunk } = toEngineRequest(body, { path, model: target.model, params: target.params, priority: identity.priority, backend: backend.config });
    const call: Call = {
      path, exchange, identity, mapped, target, backend, stage, run, plan, gone,
      streaming: body.stream === true,
      stripUsageChunk,
      mappingCostUsd: mapped.mapped?.costUsd ?? 0,
      trace,
    };
    return forward(req, deps, call, incoming);
  };
}

/**
 * What a mapper is asked. A real AbortSignal is made only for a mapper that reads `signal` (a
 * classifier's call): it costs CPU. A class, not an object literal with a getter: such a literal
 * took a microsecond to make, a class instance 18 ns.
 */
class MapCall implements MapRequest {
  constructor(
    readonly identity: Identity,
    readonly body: Readonly<Record<string, unknown>>,
    readonly deadlineAt: number | undefined,
    readonly trace: MapTrace | undefined,
    private readonly gone: ClientGone,
  ) {}

  get signal(): AbortSignal {
    return this.gone.signal;
  }
}
