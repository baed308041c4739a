import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { tracingStats } from '../../gateway/tracing/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { capturedLog } from '../helpers/log.js';
import { REDIS_INSTALLED, startRedis } from '../helpers/redis.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { defaultAnswer, json, startRecordingEngine, USAGE, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// OpenTelemetry traces through the gateway, with the real SDK and its OTLP/HTTP exporter (JSON
// encoding) sending to a collector in this process: what arrives there is what a trace viewer shows.

const JSON_OTLP = { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' };

let open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of open.reverse()) await thing.close();
  open = [];
});

async function engine(): Promise<RecordingEngine> {
  const e = await startRecordingEngine();
  open.push(e);
  return e;
}

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  open.push(r);
  return r;
}

async function gatewayWith(config: Record<string, unknown>, env: Record<string, string> = JSON_OTLP, log?: ReturnType<typeof capturedLog>['log']): Promise<RunningGateway> {
  const g = await startTestGateway(config, undefined, { env, ...(log ? { log } : {}) });
  open.unshift(g); // closed before the engines and the collector
  return g;
}

function chat(gateway: RunningGateway, headers: Record<string, string>, extra: object = {}) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'client-model', messages: [{ role: 'user', content: 'My card was charged twice.' }], ...extra }),
  });
}

/** Flushes the gateway's spans until `what` holds of what the collector has. */
async function received(gateway: RunningGateway, collector: OtlpReceiver, condition: (spans: ReceivedSpan[]) => boolean, what: string) {
  await until(async () => {
    await gateway.traces.flush();
    return condition(collector.spans);
  }, what);
  return collector.spans;
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) => spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);
const named = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

describe('a workflow run as one trace', () => {
  it('draws a three-stage run as one trace: a root span per call, with identify, map, queue and the engine attempt under it, and the run-end flush', async () => {
    const light = await engine();
    const heavy = await engine();
    const collector = await receiver();
    const gateway = await gatewayWith({
      backends: { light: { engine: 'simulator', urls: [light.url] }, heavy: { engine: 'simulator', urls: [heavy.url] } },
      stages: {
        classify: { backend: 'light', model: 'light-model' },
        policy_check: { backend: 'heavy', model: 'heavy-model' },
        reply: { backend: 'heavy', model: 'heavy-model' },
        default: { backend: 'heavy', model: 'heavy-model' },
      },
      telemetry: { traces: { otlp_endpoint: collector.url, sample_ratio: 1, service_name: 'orla-under-test' } },
    });
    const run = 'ticket-42';
    for (const [stage, done] of [['classify', false], ['policy_check', false], ['reply', true]] as const) {
      const res = await chat(gateway, { 'x-orla-workflow-run': run, 'x-orla-stage': stage, ...(done ? { 'x-orla-workflow-done': 'true' } : {}) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    // The run's end released its cache on both backends, after the last response.
    await until(async () => ((await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()) as { cache_actions: unknown[] }).cache_actions.length >= 2, 'the run-end releases');
    const record = (await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()) as { trace_id: string };
    expect(record.trace_id).toMatch(/^[0-9a-f]{32}$/);

    const spans = await received(gateway, collector, (s) => named(s, 'call reply').length === 1 && s.filter((x) => x.name.startsWith('cache ')).length >= 2, 'three calls and two cache actions');
    const calls = spans.filter((s) => s.name.startsWith('call '));
    expect(calls.map((c) => c.name).sort()).toEqual(['call classify', 'call policy_check', 'call reply']);
    // One trace, named by the run's record; every call a real root of it (no parent that is never exported).
    for (const call of calls) {
      expect(call.traceId).toBe(record.trace_id);
      expect(call.parentSpanId).toBe('');
      expect(call.kind).toBe(2);
      expect(call.resource['service.name']).toBe('orla-under-test');
    }
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([record.trace_id]));
    const ids = new Set(spans.map((s) => s.spanId));
    for (const span of spans) if (span.parentSpanId) expect(ids.has(span.parentSpanId), `${span.name}'s parent was exported`).toBe(true);

    const classify = named(calls, 'call classify')[0]!;
    expect(classify.attributes).toMatchObject({
      'orla.run.id': run,
      'orla.stage': 'classify',
      'orla.backend': 'light',
      'gen_ai.request.model': 'light-model',
      'gen_ai.usage.input_tokens': USAGE.prompt_tokens,
      'gen_ai.usage.output_tokens': USAGE.completion_tokens,
      'gen_ai.usage.cache_read.input_tokens': USAGE.prompt_tokens_details.cached_tokens,
      'http.response.status_code': 200,
      'orla.cache.decision': 'preserve',
    });
    expect(classify.status.code).toBe(0);
    const children = childrenOf(spans, classify);
    expect(children.map((c) => c.name).sort()).toEqual(['chat light-model', 'identify', 'map classify', 'queue classify']);
    const queue = named(children, 'queue classify')[0]!;
    expect(queue.attributes).toMatchObject({ 'orla.queue.stage': 'classify', 'orla.backend': 'light', 'orla.queue.position': 0, 'orla.queue.policy': 'stage=priority request=priority', 'orla.attempt': 1 });
    expect(typeof queue.attributes['orla.queue.wait_ms']).toBe('number');
    const attempt = named(children, 'chat light-model')[0]!;
    expect(attempt.kind).toBe(3);
    expect(attempt.attributes).toMatchObject({
      'orla.backend': 'light',
      'orla.replica': light.url,
      'gen_ai.request.model': 'light-model',
      'gen_ai.usage.cache_read.input_tokens': USAGE.prompt_tokens_details.cached_tokens,
      'http.response.status_code': 200,
      'orla.attempt': 1,
    });
    expect(typeof attempt.attributes['orla.ttft_ms']).toBe('number');
    expect(named(children, 'identify')[0]!.attributes).toMatchObject({ 'orla.run.id': run, 'orla.stage.requested': 'classify', 'orla.stage.source': 'tag' });

    // Each release a span under the call that set it off: the move to heavy released light
    // (policy_check), the run's end released heavy (X-Orla-Workflow-Done on the reply).
    const releases = spans.filter((s) => s.name.startsWith('cache '));
    expect(releases.length).toBe(2);
    const byBackend = Object.fromEntries(releases.map((r) => [r.attributes['orla.backend'], r]));
    expect(byBackend.light!.parentSpanId).toBe(named(calls, 'call policy_check')[0]!.spanId);
    expect(byBackend.light!.attributes).toMatchObject({ 'orla.run.id': run, 'orla.cache.action': 'session_flush', 'orla.cache.result': 'ok', 'orla.cache.reason': 'backend-switch', 'orla.replica': light.url });
    expect(byBackend.heavy!.parentSpanId).toBe(named(calls, 'call reply')[0]!.spanId);
    expect(byBackend.heavy!.attributes).toMatchObject({ 'orla.run.id': run, 'orla.cache.action': 'session_flush', 'orla.cache.result': 'ok', 'orla.cache.reason': 'completed:workflow-done', 'orla.replica': heavy.url });
    expect(byBackend.heavy!.name).toBe('cache session_flush');
  });

  it('gives a OneBit-mapped call its classifier span, under the mapping, with the verdict, and carries it to the classifier engine', async () => {
    const light = await engine();
    const heavy = await engine();
    light.respondWith((r, res) => {
      if (!r.body.response_format) return defaultAnswer(r, res);
      json(res, 200, { id: 'c', object: 'chat.completion', created: 1, model: r.body.model, choices: [{ index: 0, message: { role: 'assistant', content: '{"prediction": true}' }, finish_reason: 'stop' }], usage: USAGE });
    });
    const collector = await receiver();
    const gateway = await gatewayWith({
      backends: { light: { engine: 'vllm', urls: [light.url] }, heavy: { engine: 'vllm', urls: [heavy.url] } },
      mappers: {
        triage: {
          kind: 'onebit',
          classifier: { backend: 'light', model: 'judge-model' },
          simple: { backend: 'light', model: 'light-model' },
          complex: { backend: 'heavy', model: 'heavy-model' },
        },
      },
      stages: { solve: { mapper: 'triage' }, default: { backend: 'heavy', model: 'heavy-model' } },
      telemetry: { traces: { otlp_endpoint: collector.url } },
    });
    const res = await chat(gateway, { 'x-orla-workflow-run': 'onebit-run', 'x-orla-stage': 'solve' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-orla-mapped')).toBe('simple');
    await res.arrayBuffer();

    const spans = await received(gateway, collector, (s) => named(s, 'call solve').length === 1, 'the call');
    const call = named(spans, 'call solve')[0]!;
    const map = named(childrenOf(spans, call), 'map solve')[0]!;
    expect(map.attributes).toMatchObject({ 'orla.mapper': 'triage', 'orla.mapper.verdict': 'simple', 'orla.backend': 'light', 'gen_ai.request.model': 'light-model' });
    const classify = childrenOf(spans, map);
    expect(classify.map((s) => s.name)).toEqual(['classify triage']);
    expect(classify[0]!.attributes).toMatchObject({ 'orla.mapper': 'triage', 'orla.backend': 'light', 'gen_ai.request.model': 'judge-model', 'orla.mapper.verdict': 'simple', 'gen_ai.usage.input_tokens': USAGE.prompt_tokens });
    // The classifier's engine got the classifier span as its parent.
    const judged = light.received.find((r) => r.body.response_format !== undefined)!;
    expect(judged.headers.traceparent).toBe(`00-${call.traceId}-${classify[0]!.spanId}-01`);
  });

  it("joins the client's trace when it sends traceparent, and gives the engine the attempt's span as parent", async () => {
    const upstream = await engine();
    const collector = await receiver();
    const gateway = await gatewayWith({
      backends: { main: { engine: 'vllm', urls: [upstream.url] } },
      stages: { default: { backend: 'main', model: 'main-model' } },
      telemetry: { traces: { otlp_endpoint: collector.url } },
    });
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const res = await chat(gateway, { 'x-orla-workflow-run': 'agent-7', traceparent: `00-${clientTrace}-${clientSpan}-01`, tracestate: 'vendor=abc' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    const spans = await received(gateway, collector, (s) => s.some((x) => x.name === 'call default'), 'the call');
    const call = named(spans, 'call default')[0]!;
    expect(call.traceId).toBe(clientTrace);
    expect(call.parentSpanId).toBe(clientSpan);
    expect(call.attributes['orla.trace.joined_client']).toBe(true);
    const attempt = named(childrenOf(spans, call), 'chat main-model')[0]!;
    const sent = upstream.received[0]!.headers;
    expect(sent.traceparent).toBe(`00-${clientTrace}-${attempt.spanId}-01`);
    expect(sent.tracestate).toBe('vendor=abc');
    // The run's record names the trace its calls joined.
    const record = (await (await fetch(`${gateway.url}/v1/workflows/agent-7`)).json()) as { trace_id: string };
    expect(record.trace_id).toBe(clientTrace);
  });

  it.skipIf(!REDIS_INSTALLED)('keeps the trace a run joined in the shared run store: another gateway of the fleet names it', async () => {
    const redis = await startRedis();
    open.push(redis);
    const upstream = await engine();
    const collector = await receiver();
    const config = {
      state: { store: 'redis', url: redis.url, key_prefix: 'orla-trace-test:' },
      backends: { main: { engine: 'vllm', urls: [upstream.url] } },
      stages: { default: { backend: 'main', model: 'main-model' } },
      telemetry: { traces: { otlp_endpoint: collector.url } },
    };
    const first = await gatewayWith(config);
    const second = await gatewayWith(config);
    const clientTrace = '0af7651916cd43dd8448eb211c80319c';
    const res = await chat(first, { 'x-orla-workflow-run': 'agent-9', traceparent: `00-${clientTrace}-b7ad6b7169203331-01` });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const record = (await (await fetch(`${second.url}/v1/workflows/agent-9`)).json()) as { trace_id: string; calls: number };
    expect(record).toMatchObject({ trace_id: clientTrace, calls: 1 });
  });

  it('sets error status with the OpenAI error type when the engine fails, on the attempt and the call', async () => {
    const upstream = await engine();
    upstream.respondWith((_r, res) => json(res, 500, { error: { message: 'engine exploded', type: 'server_error' } }));
    const collector = await receiver();
    const gateway = await gatewayWith({
      backends: { main: { engine: 'vllm', urls: [upstream.url], retries: { attempts: 0 } } },
      stages: { default: { backend: 'main', model: 'main-model' } },
      telemetry: { traces: { otlp_endpoint: collector.url } },
    });
    const res = await chat(gateway, { 'x-orla-workflow-run': 'failing-run' });
    expect(res.status).toBe(500);
    await res.arrayBuffer();

    const spans = await received(gateway, collector, (s) => s.some((x) => x.name === 'call default'), 'the call');
    const call = named(spans, 'call default')[0]!;
    expect(call.status).toEqual({ code: 2, message: 'upstream_error' });
    expect(call.attributes).toMatchObject({ 'error.type': 'upstream_error', 'http.response.status_code': 500 });
    const attempt = named(childrenOf(spans, call), 'chat main-model')[0]!;
    expect(attempt.status).toEqual({ code: 2, message: 'upstream_error' });
    expect(attempt.attributes['http.response.status_code']).toBe(500);
  });

  it("names the tenant on each call's span, and gives the same run id from two tenants two traces", async () => {
    const upstream = await engine();
    const collector = await receiver();
    const keys = { acme: 'sk-acme-trace-1', globex: 'sk-globex-trace-2' };
    const gateway = await gatewayWith({
      server: { api_keys: ['sk-default-trace-0'] },
      tenants: { acme: { keys: [keys.acme] }, globex: { keys: [keys.globex] } },
      backends: { main: { engine: 'vllm', urls: [upstream.url] } },
      stages: { default: { backend: 'main', model: 'main-model' } },
      telemetry: { traces: { otlp_endpoint: collector.url } },
    });
    const traceOf: Record<string, string> = {};
    for (const [tenant, key] of Object.entries(keys)) {
      const res = await chat(gateway, { authorization: `Bearer ${key}`, 'x-orla-workflow-run': 'shared-7' });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      const record = await fetch(`${gateway.url}/v1/workflows/shared-7`, { headers: { authorization: `Bearer ${key}` } });
      traceOf[tenant] = ((await record.json()) as { trace_id: string }).trace_id;
    }
    expect(traceOf.acme).not.toBe(traceOf.globex);

    const spans = await received(gateway, collector, (s) => named(s, 'call default').length === 2, 'both calls');
    for (const tenant of Object.keys(keys)) {
      const call = named(spans, 'call default').find((c) => c.attributes['orla.tenant'] === tenant)!;
      expect(call, `${tenant}'s call`).toBeDefined();
      expect(call.traceId).toBe(traceOf[tenant]);
      expect(call.attributes['orla.run.id']).toBe('shared-7');
    }
  });

  it('records a stream that fails after its first byte as an event, with error status', async () => {
    const upstream = await engine();
    upstream.respondWith((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'Hel' } }] })}\n\n`);
      res.end(`data: ${JSON.stringify({ error: { message: 'out of memory', type: 'server_error', code: 503 } })}\n\n`);
    });
    const collector = await receiver();
    const gateway = await gatewayWith({
      backends: { main: { engine: 'vllm', urls: [upstream.url] } },
      stages: { default: { backend: 'main', model: 'main-model' } },
      telemetry: { traces: { otlp_endpoint: collector.url } },
    });
    const res = await chat(gateway, { 'x-orla-workflow-run': 'stream-run' }, { stream: true });
    expect(res.status).toBe(200);
    await res.text();

    const spans = await received(gateway, collector, (s) => s.some((x) => x.name === 'call default'), 'the call');
    const call = named(spans, 'call default')[0]!;
    expect(call.status.code).toBe(2);
    expect(call.events.map((e) => e.name)).toContain('stream error');
    expect(call.events.find((e) => e.name === 'stream error')!.attributes['error.type']).toBe('service_unavailable_error');
    const attempt = named(childrenOf(spans, call), 'chat main-model')[0]!;
    expect(attempt.events.map((e) => e.name)).toEqual(['first chunk', 'stream error']);
  });
});

describe('tracing never costs a request', () => {
  it('serves every request while the collector is down, and says so in the log once', async () => {
    // The exporter reads its own variables; it retries a refused connection until this timeout (10 s by default).
    vi.stubEnv('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', '300');
    open.push({ close: async () => void vi.unstubAllEnvs() });
    const upstream = await engine();
    const down = await receiver();
    const { url } = down;
    await down.close(); // nothing listens there now
    open = open.filter((o) => o !== down);
    const { log, lines } = capturedLog('warn');
    const gateway = await gatewayWith(
      { backends: { main: { engine: 'vllm', urls: [upstream.url] } }, stages: { default: { backend: 'main', model: 'main-model' } }, telemetry: { traces: { otlp_endpoint: url } } },
      JSON_OTLP,
      log,
    );
    for (let i = 0; i < 2; i++) {
      const res = await chat(gateway, { 'x-orla-workflow-run': `down-${i}` });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      await gateway.traces.flush().catch(() => undefined); // one export, which fails
    }
    await until(async () => (await (await fetch(`${gateway.url}/metrics`)).text()).includes('orla_trace_export_failures_total 2'), 'two failed exports counted');
    expect(lines.filter((l) => l.includes('cannot export traces'))).toHaveLength(1);
  });

  it('creates no exporter and sends no traceparent of its own when tracing is off', async () => {
    const upstream = await engine();
    const collector = await receiver();
    const before = tracingStats.exporters;
    // OTEL_* variables that do not ask for traces, and a config without `telemetry`.
    const gateway = await gatewayWith({ backends: { main: { engine: 'vllm', urls: [upstream.url] } }, stages: { default: { backend: 'main', model: 'main-model' } } }, { OTEL_SERVICE_NAME: 'x', ...JSON_OTLP });
    expect(gateway.traces.enabled).toBe(false);
    const res = await chat(gateway, { 'x-orla-workflow-run': 'quiet-run' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    await gateway.traces.flush();
    expect(tracingStats.exporters).toBe(before);
    expect(upstream.received[0]!.headers.traceparent).toBeUndefined();
    expect(collector.contentTypes).toEqual([]);
    const record = (await (await fetch(`${gateway.url}/v1/workflows/quiet-run`)).json()) as { trace_id: string | null };
    expect(record.trace_id).toBeNull();

    // The same gateway with an OTLP endpoint in the environment turns tracing on, and creates one.
    const traced = await gatewayWith({ backends: { main: { engine: 'vllm', urls: [upstream.url] } }, stages: { default: { backend: 'main', model: 'main-model' } } }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: collector.url, ...JSON_OTLP });
    expect(traced.traces.enabled).toBe(true);
    expect(tracingStats.exporters).toBe(before + 1);
  });
});
