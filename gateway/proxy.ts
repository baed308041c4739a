import { asOrlaError, badRequest, clientClosed, unsupportedMediaType, type OrlaError } from '../errors.js';
import { identify } from '../sessions/identity.js';
import type { Plan } from '../memory/manager.js';
import type { MemoryManager } from '../memory/manager.js';
import type { Backend, Ticket } from '../routing/backends.js';
import type { ClientGone } from '../cancel.js';
import { dispatch } from '../routing/dispatch.js';
import { costOf, formatUsd } from '../routing/cost.js';
import { chooseTarget } from '../routing/reroute.js';
import type { RequestScheduler } from '../routing/scheduler/types.js';
import type { StageMapper } from '../routing/types.js';
import type { UpstreamClient } from '../upstream/clients/types.js';
import type { Exchange } from './exchange.js';
import { addReturnedHeaders, splitRequestHeaders } from './headers.js';
import type { GatewayMetrics } from './metrics.js';
import type { Platform, ResponseHead } from './platform.js';
import { inEnvelope, streamError } from './engine-error.js';
import { calledTools, SseRelay } from './sse.js';
import { usageOfJson, type Usage } from './usage.js';
import { validateBody, type RouteKind } from './validate.js';

export interface ProxyDeps<R> {
  mapper: StageMapper;
  backends: ReadonlyMap<string, Backend>;
  platform: Platform<R>;
  metrics: GatewayMetrics;
  bodyLimitBytes: number;
  /** With gateway auth on, the client's Authorization is Orla's key and never goes upstream. */
  gatewayAuth: boolean;
  memory: MemoryManager;
  /** A configured stage's level-2 policy and `fair` weight. */
  queuePolicy(stage: string): { requestScheduler: RequestScheduler; weight: number };
}

export const ROUTE_PATHS: Record<RouteKind, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  responses: '/v1/responses',
  embeddings: '/v1/embeddings',
};

/** Routes whose streams take `stream_options.include_usage`; the Responses API always reports usage. */
const TAKES_STREAM_OPTIONS = new Set<RouteKind>(['chat', 'completions']);
const JSON_CONTENT = /^application\/([\w.+-]+\+)?json\b/i;

/** parse → identify → map → forward → relay, for one OpenAI route. Errors are thrown, for the caller to send. */
export function proxyRoute<R>(kind: RouteKind, deps: ProxyDeps<R>) {
  const path = ROUTE_PATHS[kind];
  return async (req: R, exchange: Exchange): Promise<Response> => {
    exchange.route = path;
    const headers = deps.platform.requestHeaders(req);
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !JSON_CONTENT.test(contentType)) throw unsupportedMediaType(typeof contentType === 'string' ? contentType : undefined);
    const text = await deps.platform.readBody(req, deps.bodyLimitBytes);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw badRequest(`request body is not valid JSON: ${(err as Error).message}`, null, 'invalid_json');
    }
    validateBody(kind, body);

    const { orla, forward } = splitRequestHeaders(headers);
    const identity = identify(orla, body);
    exchange.requestedStage = identity.stage;
    exchange.run = identity.run;
    if (Object.keys(identity.tags).length > 0) exchange.tags = identity.tags;
    const gone = deps.platform.clientGone(req);
    // A real AbortSignal only for a mapper that asks for one (a classifier call): it costs CPU.
    const deadlineAt = identity.deadlineMs === undefined ? undefined : exchange.started + identity.deadlineMs;
    const mapped = await deps.mapper.map({ identity, body, deadlineAt, get signal() { return gone.signal; } });
    const { target, rerouted } = chooseTarget(mapped, deps.backends);
    const backend = deps.backends.get(target.backend)!;
    exchange.stage = target.stage;
    exchange.backend = target.backend;

    if (target.model !== undefined) body.model = target.model;
    if (target.params) Object.assign(body, target.params);
    if (typeof body.model !== 'string') {
      throw badRequest('model: is required (or name a stage whose config sets a model)', 'model');
    }
    const streaming = body.stream === true;
    let stripUsageChunk = false;
    if (streaming && TAKES_STREAM_OPTIONS.has(kind)) {
      const options = body.stream_options as { include_usage?: boolean } | null | undefined;
      if (options?.include_usage !== true) {
        // Orla needs token counts; the client still gets exactly the stream it asked for.
        body.stream_options = { ...options, include_usage: true };
        stripUsageChunk = true;
      }
    }
    setEnginePriority(body, backend, identity.priority);
    const plan = deps.memory.plan(identity, backend, target.stage, body.model);

    const apiKey = backend.config.api_key;
    if (apiKey) forward.authorization = `Bearer ${apiKey}`;
    else if (!deps.gatewayAuth && typeof headers.authorization === 'string') forward.authorization = headers.authorization;
    forward['content-type'] = 'application/json';
    forward['accept-encoding'] = 'identity'; // bytes pass through untouched, and usage stays readable
    forward['x-request-id'] = exchange.id;

    const stage = identity.stage ?? target.stage;
    const responseHeaders: ResponseHead['headers'] = {
      'x-request-id': exchange.id,
      'x-orla-backend': backend.name,
      'x-orla-stage': stage,
    };
    if (identity.run !== undefined) responseHeaders['x-orla-workflow-run'] = identity.run;
    if (rerouted) responseHeaders['x-orla-rerouted'] = mapped.backend;
    if (mapped.mapped?.verdict) responseHeaders['x-orla-mapped'] = mapped.mapped.verdict;
    const { requestScheduler, weight } = deps.queuePolicy(target.stage);
    return forwardTo(req, deps, exchange, backend, {
      path,
      plan,
      body,
      headers: forward,
      streaming,
      stripUsageChunk,
      responseHeaders,
      mappingCostUsd: mapped.mapped?.costUsd ?? 0,
      ticket: {
        stage,
        metricsStage: target.stage,
        run: identity.run,
        priority: identity.priority ?? 0,
        promptTokens: Math.ceil(text.length / 4), // ~4 bytes of JSON per token: enough to rank jobs
        requestScheduler,
        weight,
        deadlineMs: identity.deadlineMs,
        arrivedAt: exchange.started,
        signal: gone,
        affinity: plan ? plan.affinity : deps.memory.prefixPlacement(body, backend),
      },
    });
  };
}

/**
 * X-Orla-Priority is "higher first"; an engine gets it only when it runs priority scheduling, in its
 * own convention (`priority_order`; vLLM: lower first; SGLang and the simulator: higher first unless
 * configured otherwise). Otherwise no `priority` field is sent at all: engines without it reject it.
 */
function setEnginePriority(body: Record<string, unknown>, backend: Backend, priority: number | undefined): void {
  if (!backend.config.priority_scheduling || !ENGINES_WITH_PRIORITY.has(backend.config.engine)) {
    delete body.priority;
    return;
  }
  const order = backend.config.priority_order ?? (backend.config.engine === 'vllm' ? 'lower_first' : 'higher_first');
  if (priority !== undefined) body.priority = order === 'lower_first' ? -priority : priority;
}

const ENGINES_WITH_PRIORITY = new Set(['vllm', 'sglang', 'simulator']);


interface Outbound {
  /** Its `signal` is the client's ClientGone. */
  ticket: Ticket & { signal: ClientGone };
  plan: Plan | undefined;
  path: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  streaming: boolean;
  stripUsageChunk: boolean;
  responseHeaders: ResponseHead['headers'];
  /** What mapping it cost (a classifier call): part of its X-Orla-Cost-Usd and its run's cost. */
  mappingCostUsd: number;
}

async function forwardTo<R>(req: R, deps: ProxyDeps<R>, exchange: Exchange, backend: Backend, out: Outbound): Promise<Response> {
  const { plan } = out;
  const signal = out.ticket.signal;
  let client!: UpstreamClient;
  let sentAt = 0;
  let serialized: string | undefined;
  let dispatched: Awaited<ReturnType<typeof dispatch>>;
  try {
    dispatched = await dispatch(backend, out.ticket, (replica) => {
      client = replica.client;
      const { body, headers } = plan ? deps.memory.tag(plan, replica, out.body, out.headers) : out;
      const text = body === out.body ? (serialized ??= JSON.stringify(body)) : JSON.stringify(body);
      sentAt = performance.now();
      return { method: 'POST', path: out.path, headers, body: text, signal };
    });
  } catch (err) {
    if (plan) deps.memory.completed(plan, undefined, failureOf(asOrlaError(err)));
    throw err;
  }
  const { lease, response: upstream } = dispatched;
  /**
   * Frees the slot and accounts the call. A 5xx counts against the replica's circuit; 'neutral' (the
   * client left, or Orla could not write the response) does not. `error` says why a call failed.
   */
  const settle = (status: number | 'neutral', usage?: Usage, toolCalls = false, error?: string) => {
    const ok = status !== 'neutral' && status < 400;
    exchange.costUsd ??= usage ? costOf(usage, backend.config.price) : undefined;
    lease.release(status === 'neutral' ? 'neutral' : status >= 500 ? 'failure' : 'success', usage ? usage.promptTokens + usage.completionTokens : undefined);
    if (!plan) return;
    deps.memory.completed(plan, ok ? {
      replica: lease.replica,
      promptTokens: usage?.promptTokens ?? 0,
      cachedTokens: usage?.cachedTokens ?? 0,
      completionTokens: usage?.completionTokens ?? 0,
      costUsd: (exchange.costUsd ?? 0) + out.mappingCostUsd,
      toolCalls,
    } : undefined, ok || status === 'neutral' ? undefined : { status, message: error ?? `the engine answered ${status}` });
  };
  const respondedAt = performance.now();
  const orlaMs = sentAt - exchange.started - lease.queueMs; // parse, map, queue bookkeeping; not the wait
  const headers: ResponseHead['headers'] = addReturnedHeaders(out.responseHeaders, upstream.headers);
  headers['x-orla-queue-ms'] = lease.queueMs.toFixed(3);
  const isSse = out.streaming && upstream.status < 300 && String(upstream.headers['content-type']).startsWith('text/event-stream');

  if (!isSse) {
    let bytes: Buffer;
    try {
      const body = await upstream.readAll();
      bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    } catch (err) {
      const error = signal.aborted ? clientClosed() : client.describeError(err, backend.name);
      settle(signal.aborted ? 'neutral' : error.status, undefined, false, error.message);
      throw error;
    }
    const text = bytes.toString('utf8');
    const ok = upstream.status < 300;
    const usage = ok ? usageOfJson(text) : undefined;
    const toolCalls = ok && calledTools(text);
    const envelope = upstream.status >= 400 ? inEnvelope(upstream.status, text, backend.name) : undefined;
    if (envelope !== undefined) {
      bytes = Buffer.from(envelope);
      headers['content-type'] = 'application/json';
    }
    if (plan) headers['x-orla-cache'] = deps.memory.header(plan, lease.replica, toolCalls);
    exchange.costUsd = usage ? costOf(usage, backend.config.price) : undefined;
    headers['x-orla-cost-usd'] = formatUsd((exchange.costUsd ?? 0) + out.mappingCostUsd);
    exchange.overheadMs = orlaMs;
    headers['x-orla-overhead-ms'] = orlaMs.toFixed(3);
    exchange.firstByteAt = performance.now();
    try {
      return deps.platform.send(req, { status: upstream.status, headers }, bytes);
    } finally {
      // Accounted once the response is written: the bookkeeping is off the client's path.
      settle(upstream.status, usage, toolCalls);
      exchange.finish(upstream.status, usage);
    }
  }

  if (plan) headers['x-orla-cache'] = deps.memory.header(plan, lease.replica);
  exchange.overheadMs = orlaMs + (performance.now() - respondedAt);
  headers['x-orla-overhead-ms'] = exchange.overheadMs.toFixed(3);
  const relay = new SseRelay({
    stripUsageChunk: out.stripUsageChunk,
    responses: out.path === ROUTE_PATHS.responses,
    describeError: (err) => client.describeError(err, backend.name),
    describeStreamError: (event) => streamError(event, backend.name),
    clientGone: () => signal.aborted,
    onFirstChunk: () => (exchange.firstByteAt = performance.now()),
    onEnd: (outcome) => {
      const status = outcome.clientGone ? 499 : outcome.error?.status ?? upstream.status;
      settle(outcome.clientGone ? 'neutral' : status, outcome.usage, outcome.toolCalls, outcome.error?.message);
      exchange.finish(status, outcome.usage, outcome.error?.message);
    },
  });
  try {
    return await deps.platform.stream(req, { status: upstream.status, headers }, upstream.body, relay);
  } catch (err) {
    // The response could not even start (a header Node refuses): nothing was relayed, free it all.
    upstream.cancel();
    settle('neutral');
    throw err;
  }
}

/** What the run record keeps of a failed call; a client that left is no failure. */
const failureOf = (error: OrlaError) => (error.status === 499 ? undefined : { status: error.status, message: error.message });
