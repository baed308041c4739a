import { asOrlaError, clientClosed } from '../errors.js';
import { dispatch } from '../routing/dispatch.js';
import { formatUsd } from '../routing/cost.js';
import type { Ticket } from '../routing/backend.js';
import { authorization } from '../upstream/engines/index.js';
import type { UpstreamClient } from '../upstream/clients/types.js';
import type { Call } from './call.js';
import { inEnvelope, streamError } from './engine-error.js';
import { addReturnedHeaders } from './headers.js';
import type { ResponseHead } from './platform.js';
import { ROUTE_PATHS, type ProxyDeps } from './proxy.js';
import { costOfCall, recordRun, settle, type Ending } from './settle.js';
import { calledTools, SseRelay, type RelayOutcome } from './sse.js';
import { usageOfJson } from './usage.js';
import { prefixHashOf } from '../routing/pickers/prefix-hash.js';

/** Waits for a slot, sends the call to the replica it got, and answers the client: whole, or streamed as it arrives. */
export async function forward<R>(req: R, deps: ProxyDeps<R>, call: Call): Promise<Response> {
  const { backend, exchange, plan, gone: signal } = call;
  const { body } = call.incoming;
  const headers = upstreamHeaders(call, deps.gatewayAuth);
  let client!: UpstreamClient;
  let sentAt = 0;
  let serialized: string | undefined;
  let dispatched: Awaited<ReturnType<typeof dispatch>>;
  const ticket = ticketOf(call);
  try {
    const pass = deps.tenants.enter(call.identity.tenant, ticket); // over its tenant's limit, it waits here
    call.tenantPass = pass instanceof Promise ? await pass : pass;
    dispatched = await dispatch(backend, ticket, (replica, lease) => {
      call.tenantPass?.dispatched(); // it holds a slot: no longer waiting
      client = replica.client;
      const tagged = plan ? deps.memory.tag(plan, replica.url, body, headers) : { body, headers };
      const text = tagged.body === body ? (serialized ??= JSON.stringify(body)) : JSON.stringify(tagged.body);
      sentAt = performance.now();
      return { method: 'POST', path: call.path, headers: call.trace.attempt(replica.url, lease, tagged.headers), body: text, signal };
    }, call.trace.dispatch).finally(() => call.tenantPass?.dispatched()); // refused or failed: not waiting either
  } catch (err) {
    const error = asOrlaError(err);
    settle(deps, call, undefined, { status: error.status, neutral: error.status === 499, error: error.message });
    throw err;
  }
  const { lease, response: upstream } = dispatched;
  call.trace.responded(upstream.status);
  const respondedAt = performance.now();
  const orlaMs = sentAt - exchange.started - lease.queueMs; // parse, map, queue bookkeeping; not the wait
  const head: ResponseHead['headers'] = addReturnedHeaders(responseHeaders(call), upstream.headers);
  head['x-orla-queue-ms'] = lease.queueMs.toFixed(3);
  const isSse = call.streaming && upstream.status < 300 && String(upstream.headers['content-type']).startsWith('text/event-stream');

  if (!isSse) {
    let bytes: Buffer;
    try {
      const read = await upstream.readAll();
      bytes = Buffer.from(read.buffer, read.byteOffset, read.byteLength);
    } catch (err) {
      const error = signal.aborted ? clientClosed() : client.describeError(err, backend.name);
      settle(deps, call, lease, { status: error.status, neutral: signal.aborted, error: error.message });
      throw error;
    }
    const text = bytes.toString('utf8');
    const ok = upstream.status < 300;
    const usage = ok ? usageOfJson(text) : undefined;
    const toolCalls = ok && calledTools(text);
    const envelope = upstream.status >= 400 ? inEnvelope(upstream.status, text, backend.name) : undefined;
    if (envelope !== undefined) {
      bytes = Buffer.from(envelope);
      head['content-type'] = 'application/json';
    }
    if (plan) head['x-orla-cache'] = deps.memory.header(plan, lease.replica.url, toolCalls);
    head['x-orla-cost-usd'] = formatUsd(costOfCall(call, usage) + call.mappingCostUsd);
    exchange.overheadMs = orlaMs;
    head['x-orla-overhead-ms'] = orlaMs.toFixed(3);
    exchange.firstByteAt = performance.now();
    const ending = { status: upstream.status, usage, toolCalls };
    recordRun(deps, call, lease, ending);
    try {
      return deps.platform.send(req, { status: upstream.status, headers: head }, bytes);
    } finally {
      settle(deps, call, lease, ending, true);
    }
  }

  if (plan) head['x-orla-cache'] = deps.memory.header(plan, lease.replica.url);
  exchange.overheadMs = orlaMs + (performance.now() - respondedAt);
  head['x-orla-overhead-ms'] = exchange.overheadMs.toFixed(3);
  const streamEnding = (outcome: RelayOutcome): Ending => ({
    status: outcome.clientGone ? 499 : (outcome.error?.status ?? upstream.status),
    neutral: outcome.clientGone,
    usage: outcome.usage,
    toolCalls: outcome.toolCalls,
    error: outcome.error?.message,
  });
  const relay = new SseRelay({
    stripUsageChunk: call.stripUsageChunk,
    responses: call.path === ROUTE_PATHS.responses,
    describeError: (err) => client.describeError(err, backend.name),
    describeStreamError: (event) => streamError(event, backend.name),
    clientGone: () => signal.aborted,
    onFirstChunk: () => (exchange.firstByteAt = performance.now()),
    beforeLastBytes: (outcome) => recordRun(deps, call, lease, streamEnding(outcome)),
    onEnd: (outcome) => settle(deps, call, lease, streamEnding(outcome), true),
  });
  try {
    return await deps.platform.stream(req, { status: upstream.status, headers: head }, upstream.body, relay);
  } catch (err) {
    // The response could not even start (a header Node refuses): nothing was relayed, free it all.
    upstream.cancel();
    settle(deps, call, lease, { status: 500, neutral: true });
    throw err;
  }
}

/** What the engine receives from the client, and the gateway's own: the backend's key, else the client's (only without gateway auth). */
function upstreamHeaders(call: Call, gatewayAuth: boolean): Record<string, string> {
  const { forward, authorization: clientAuth } = call.incoming;
  const key = call.backend.config.api_key;
  // Object.assign, not spreads: on Node 20 (V8 11.3) spreading a map of headers took ten times as long.
  const headers = Object.assign({}, forward, key ? authorization(key) : !gatewayAuth && clientAuth ? { authorization: clientAuth } : undefined);
  headers['content-type'] = 'application/json';
  headers['accept-encoding'] = 'identity'; // bytes pass through untouched, and usage stays readable
  headers['x-request-id'] = call.exchange.id;
  return headers;
}

function ticketOf(call: Call): Ticket & { signal: Call['gone'] } {
  const { identity, exchange } = call;
  return {
    stage: call.target.stage,
    run: identity.run,
    tenant: identity.tenant,
    priority: identity.priority ?? 0,
    promptTokens: Math.ceil(call.incoming.length / 4),
    deadlineMs: identity.deadlineMs,
    arrivedAt: exchange.started,
    signal: call.gone,
    affinity: call.plan?.affinity,
    prefixHash: identity.run === undefined ? prefixHashOf(call.incoming.body) : undefined,
  };
}

function responseHeaders(call: Call): ResponseHead['headers'] {
  const headers: ResponseHead['headers'] = {
    'x-request-id': call.exchange.id,
    'x-orla-backend': call.backend.name,
    'x-orla-stage': call.stage,
  };
  if (call.identity.run !== undefined) headers['x-orla-workflow-run'] = call.identity.run;
  if (call.target !== call.mapped) headers['x-orla-rerouted'] = call.mapped.backend;
  if (call.mapped.mapped?.verdict) headers['x-orla-mapped'] = call.mapped.mapped.verdict;
  return headers;
}
