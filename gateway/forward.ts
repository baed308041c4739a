import { asOrlaError, clientClosed } from '../errors.js';
import { dispatch } from '../routing/dispatch.js';
import { formatUsd } from '../routing/cost.js';
import type { Lease, Ticket } from '../routing/backend.js';
import { authorization } from '../upstream/engines/index.js';
import type { UpstreamResponse } from '../upstream/clients/types.js';
import type { Call } from './call.js';
import { inEnvelope, streamError } from './engine-error.js';
import { addReturnedHeaders } from './headers.js';
import type { ResponseHead } from './platform.js';
import { ROUTE_PATHS, type ProxyDeps } from './proxy.js';
import type { Incoming } from './request.js';
import { costOfCall, recordRun, settle, type Ending } from './settle.js';
import { calledTools, SseRelay, type RelayOutcome } from './sse.js';
import { usageOfJson } from './usage.js';
import { prefixHashOf } from '../routing/pickers/prefix-hash.js';

/**
 * Waits for a slot, sends the call to the replica it got, and answers the client: whole, or streamed
 * as it arrives. The client's request lives only until the engine has answered (`send`): a stream
 * can last minutes, and an agent's context runs to tens of KB, so the answer's closures never hold it.
 */
export async function forward<R>(req: R, deps: ProxyDeps<R>, call: Call, incoming: Incoming): Promise<Response> {
  const { lease, response: upstream, sentAt } = await send(deps, call, incoming);
  const respondedAt = performance.now();
  call.trace.responded(upstream.status);
  const head: ResponseHead['headers'] = addReturnedHeaders(responseHeaders(call), upstream.headers);
  head['x-orla-queue-ms'] = lease.queueMs.toFixed(3);
  const orlaMs = sentAt - call.exchange.started - lease.queueMs; // parse, map, queue bookkeeping; not the wait
  const answer: Answer = { lease, upstream, head, orlaMs, respondedAt };
  const isSse = call.streaming && upstream.status < 300 && String(upstream.headers['content-type']).startsWith('text/event-stream');
  return isSse ? relay(req, deps, call, answer) : answerWhole(req, deps, call, answer);
}

/** The engine's answer, and what the gateway will say of it. */
interface Answer {
  lease: Lease;
  upstream: UpstreamResponse;
  head: ResponseHead['headers'];
  /** The gateway's own time before the engine had the request (not the queue's). */
  orlaMs: number;
  respondedAt: number;
}

/** The engine's request, tagged for the replica each attempt got, through the tenant's limit and the backend's queue. */
async function send<R>(deps: ProxyDeps<R>, call: Call, incoming: Incoming): Promise<{ lease: Lease; response: UpstreamResponse; sentAt: number }> {
  const { plan } = call;
  const { body } = incoming;
  const headers = upstreamHeaders(call, incoming, deps.gatewayAuth);
  const ticket = ticketOf(call, incoming);
  let serialized: string | undefined;
  let sentAt = 0;
  try {
    const pass = deps.tenants.enter(call.identity.tenant, ticket); // over its tenant's limit, it waits here
    call.tenantPass = pass instanceof Promise ? await pass : pass;
    const dispatched = await dispatch(call.backend, ticket, (replica, lease) => {
      call.tenantPass?.dispatched(); // it holds a slot: no longer waiting
      const tagged = plan ? deps.memory.tag(plan, replica.url, body, headers) : { body, headers };
      const text = tagged.body === body ? (serialized ??= JSON.stringify(body)) : JSON.stringify(tagged.body);
      sentAt = performance.now();
      return { method: 'POST', path: call.path, headers: call.trace.attempt(replica.url, lease, tagged.headers), body: text, signal: call.gone };
    }, call.trace.dispatch).finally(() => call.tenantPass?.dispatched()); // refused or failed: not waiting either
    return { lease: dispatched.lease, response: dispatched.response, sentAt };
  } catch (err) {
    const error = asOrlaError(err);
    settle(deps, call, undefined, { status: error.status, neutral: error.status === 499, error: error.message });
    throw err;
  }
}

/** A response read whole, then sent with its cache, cost and overhead headers. */
async function answerWhole<R>(req: R, deps: ProxyDeps<R>, call: Call, { lease, upstream, head, orlaMs }: Answer): Promise<Response> {
  const { exchange, plan, gone: signal } = call;
  let bytes: Buffer;
  try {
    const read = await upstream.readAll();
    bytes = Buffer.from(read.buffer, read.byteOffset, read.byteLength);
  } catch (err) {
    const error = signal.aborted ? clientClosed() : lease.replica.client.describeError(err, call.backend.name);
    settle(deps, call, lease, { status: error.status, neutral: signal.aborted, error: error.message });
    throw error;
  }
  const text = bytes.toString('utf8');
  const ok = upstream.status < 300;
  const usage = ok ? usageOfJson(text) : undefined;
  const toolCalls = ok && calledTools(text);
  const envelope = upstream.status >= 400 ? inEnvelope(upstream.status, text, call.backend.name) : undefined;
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

/** An SSE response relayed as it arrives; the call settles when the stream ends, however it ends. */
async function relay<R>(req: R, deps: ProxyDeps<R>, call: Call, { lease, upstream, head, orlaMs, respondedAt }: Answer): Promise<Response> {
  const { exchange, plan, backend, gone: signal } = call;
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
  const sse = new SseRelay({
    stripUsageChunk: call.stripUsageChunk,
    responses: call.path === ROUTE_PATHS.responses,
    describeError: (err) => lease.replica.client.describeError(err, backend.name),
    describeStreamError: (event) => streamError(event, backend.name),
    clientGone: () => signal.aborted,
    onFirstChunk: () => (exchange.firstByteAt = performance.now()),
    beforeLastBytes: (outcome) => recordRun(deps, call, lease, streamEnding(outcome)),
    onEnd: (outcome) => settle(deps, call, lease, streamEnding(outcome), true),
  });
  try {
    return await deps.platform.stream(req, { status: upstream.status, headers: head }, upstream.body, sse);
  } catch (err) {
    // The response could not even start (a header Node refuses): nothing was relayed, free it all.
    upstream.cancel();
    settle(deps, call, lease, { status: 500, neutral: true });
    throw err;
  }
}

/** What the engine receives from the client, and the gateway's own: the backend's key, else the client's (only without gateway auth). */
function upstreamHeaders(call: Call, incoming: Incoming, gatewayAuth: boolean): Record<string, string> {
  const { forward, authorization: clientAuth } = incoming;
  const key = call.backend.config.api_key;
  // Object.assign, not spreads: on Node 20 (V8 11.3) spreading a map of headers took ten times as long.
  const headers = Object.assign({}, forward, key ? authorization(key) : !gatewayAuth && clientAuth ? { authorization: clientAuth } : undefined);
  headers['content-type'] = 'application/json';
  headers['accept-encoding'] = 'identity'; // bytes pass through untouched, and usage stays readable
  headers['x-request-id'] = call.exchange.id;
  return headers;
}

function ticketOf(call: Call, incoming: Incoming): Ticket & { signal: Call['gone'] } {
  const { identity, exchange } = call;
  return {
    stage: call.target.stage,
    run: identity.run,
    tenant: identity.tenant,
    priority: identity.priority ?? 0,
    promptTokens: Math.ceil(incoming.length / 4),
    deadlineMs: identity.deadlineMs,
    arrivedAt: exchange.started,
    signal: call.gone,
    affinity: call.plan?.affinity,
    prefixHash: identity.run === undefined ? prefixHashOf(incoming.body) : undefined,
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
