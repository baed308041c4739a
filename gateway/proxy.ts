import type { Context } from 'hono';
import { badRequest, unsupportedMediaType } from '../errors.js';
import { identify } from '../sessions/identity.js';
import type { Backend } from '../routing/backends.js';
import type { StageMapper } from '../routing/types.js';
import type { UpstreamResponse } from '../routing/upstream/types.js';
import type { Exchange } from './exchange.js';
import { returnedHeaders, splitRequestHeaders } from './headers.js';
import type { GatewayMetrics } from './metrics.js';
import type { Platform, ResponseHead } from './platform.js';
import { relaySse } from './sse.js';
import { usageOfJson } from './usage.js';
import { validateBody, type RouteKind } from './validate.js';

export interface ProxyDeps {
  mapper: StageMapper;
  backends: ReadonlyMap<string, Backend>;
  platform: Platform;
  metrics: GatewayMetrics;
  bodyLimitBytes: number;
  /** With gateway auth on, the client's Authorization is Orla's key and never goes upstream. */
  gatewayAuth: boolean;
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

/** parse → identify → map → forward → relay, for one OpenAI route. */
export function proxyRoute(kind: RouteKind, deps: ProxyDeps) {
  const path = ROUTE_PATHS[kind];
  return async (c: Context): Promise<Response> => {
    const exchange = c.get('exchange') as Exchange;
    exchange.route = path;
    const headers = deps.platform.requestHeaders(c);
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !JSON_CONTENT.test(contentType)) throw unsupportedMediaType(typeof contentType === 'string' ? contentType : undefined);
    const text = await deps.platform.readBody(c, deps.bodyLimitBytes);
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
    const target = await deps.mapper.map({ identity, body });
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

    const backend = deps.backends.get(target.backend)!;
    const apiKey = backend.config.api_key;
    if (apiKey) forward.authorization = `Bearer ${apiKey}`;
    else if (!deps.gatewayAuth && typeof headers.authorization === 'string') forward.authorization = headers.authorization;
    forward['content-type'] = 'application/json';
    forward['accept-encoding'] = 'identity'; // bytes pass through untouched, and usage stays readable
    forward['x-request-id'] = exchange.id;

    const responseHeaders = {
      'x-request-id': exchange.id,
      'x-orla-backend': backend.name,
      'x-orla-stage': identity.stage ?? target.stage,
      ...(identity.run === undefined ? {} : { 'x-orla-workflow-run': identity.run }),
    };
    return forwardTo(c, deps, exchange, backend, {
      path,
      body: JSON.stringify(body),
      headers: forward,
      streaming,
      stripUsageChunk,
      responseHeaders,
    });
  };
}

interface Outbound {
  path: string;
  body: string;
  headers: Record<string, string>;
  streaming: boolean;
  stripUsageChunk: boolean;
  responseHeaders: Record<string, string>;
}

async function forwardTo(c: Context, deps: ProxyDeps, exchange: Exchange, backend: Backend, out: Outbound): Promise<Response> {
  const replica = backend.pickReplica();
  const client = replica.client;
  replica.inFlight++;
  deps.metrics.inFlight.inc({ backend: backend.name });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    replica.inFlight--;
    deps.metrics.inFlight.dec({ backend: backend.name });
  };
  const signal = c.req.raw.signal;
  const clientGone = () => {
    release();
    exchange.finish(499);
    return deps.platform.send(c, { status: 499, headers: {} }, '');
  };

  const dispatchedAt = performance.now();
  let upstream: UpstreamResponse;
  try {
    upstream = await client.request({ method: 'POST', path: out.path, headers: out.headers, body: out.body, signal });
  } catch (err) {
    if (signal.aborted) return clientGone();
    release();
    throw client.describeError(err, backend.name);
  }
  const respondedAt = performance.now();
  const headers: ResponseHead['headers'] = { ...returnedHeaders(upstream.headers), ...out.responseHeaders };
  const isSse = out.streaming && upstream.status < 300 && String(upstream.headers['content-type']).startsWith('text/event-stream');

  if (!isSse) {
    let bytes: Buffer;
    try {
      bytes = await readAll(upstream.body);
    } catch (err) {
      if (signal.aborted) return clientGone();
      release();
      throw client.describeError(err, backend.name);
    }
    release();
    const usage = upstream.status < 300 ? usageOfJson(bytes.toString('utf8')) : undefined;
    exchange.overheadMs = dispatchedAt - exchange.started;
    headers['x-orla-overhead-ms'] = exchange.overheadMs.toFixed(3);
    exchange.firstByteAt = performance.now();
    exchange.finish(upstream.status, usage);
    return deps.platform.send(c, { status: upstream.status, headers }, bytes);
  }

  exchange.overheadMs = dispatchedAt - exchange.started + (performance.now() - respondedAt);
  headers['x-orla-overhead-ms'] = exchange.overheadMs.toFixed(3);
  const chunks = relaySse(upstream.body, {
    stripUsageChunk: out.stripUsageChunk,
    describeError: (err) => client.describeError(err, backend.name),
    clientGone: () => signal.aborted,
    onFirstChunk: () => (exchange.firstByteAt = performance.now()),
    onEnd: (outcome) => {
      release();
      if (outcome.clientGone) exchange.finish(499, outcome.usage);
      else exchange.finish(outcome.error?.status ?? upstream.status, outcome.usage, outcome.error?.message);
    },
  });
  return deps.platform.stream(c, { status: upstream.status, headers }, chunks);
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return chunks.length === 1 ? Buffer.from(chunks[0]!) : Buffer.concat(chunks);
}
