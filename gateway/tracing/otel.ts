import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type SpanContext } from '@opentelemetry/api';
import { ExportResultCode, parseTraceParent, TraceState, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  RandomIdGenerator,
  TraceIdRatioBasedSampler,
  type IdGenerator,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../../config/schema.js';
import type { Identity } from '../../identity.js';
import { runIdOf, runKey } from '../../sessions/runs.js';
import type { CacheActionRecord, RunRecord } from '../../state.js';
import type { Exchange } from '../exchange.js';
import type { Incoming } from '../request.js';
import type { RouteKind } from '../validate.js';
import { CallSpans } from './call-spans.js';
import { queuePolicies } from './attributes.js';
import type { TracingSettings } from './settings.js';
import type { CallTrace, Tracing } from './types.js';

// Tracing on: the OpenTelemetry SDK, with no context manager (every span names its parent), a
// batch processor in front of the OTLP/HTTP exporter, and trace ids derived from run ids.

export interface OtelDeps {
  config: Config;
  log: Logger;
  registry: Registry;
  /** How many requests wait on a backend now. */
  queued(backend: string): number;
  /** Told once the exporter exists (tests count them: tracing off creates none). */
  onExporter?(): void;
}

/**
 * The trace id of a run: the first 16 bytes of SHA-256 over its key (its id within its tenant, so
 * the same id from two tenants is two traces, as it is two runs). Every call of a run starts a
 * root span with it, so the run is one trace with no made-up parent, and `GET /v1/workflows/{run}`
 * can name it.
 */
export const runTraceId = (key: string) => createHash('sha256').update(`orla-run:${key}`).digest('hex').slice(0, 32);

/** Random ids, except a root span's trace id when the caller has set the next one (a run's). */
class RunTraceIds implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  next: string | undefined;
  generateTraceId(): string {
    const id = this.next ?? this.random.generateTraceId();
    this.next = undefined;
    return id;
  }
  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}

/**
 * Counts what the exporter could deliver, and says so in the log once per outage: spans that cannot
 * be exported are dropped, never retried into the request path.
 */
class CountingExporter implements SpanExporter {
  private down = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly endpoint: string,
    private readonly log: Logger,
    private readonly spans: Counter<'result'>,
    private readonly failures: Counter,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      const ok = result.code === ExportResultCode.SUCCESS;
      this.spans.inc({ result: ok ? 'ok' : 'failed' }, spans.length);
      if (!ok) this.failures.inc();
      if (!ok && !this.down) this.log.warn({ endpoint: this.endpoint, err: result.error?.message }, 'cannot export traces: spans are dropped until the collector answers (logged once per outage)');
      if (ok && this.down) this.log.info({ endpoint: this.endpoint }, 'exporting traces again');
      this.down = !ok;
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

// From the sources (gateway/tracing/) or the build (dist/gateway/tracing/): the package file is two or three levels up.
const packageFile = ['../../package.json', '../../../package.json'].map((p) => new URL(p, import.meta.url)).find(existsSync);
const VERSION = packageFile ? (JSON.parse(readFileSync(packageFile, 'utf8')) as { version: string }).version : 'unknown';

export class OtelTracing implements Tracing {
  readonly enabled = true;
  private readonly ids = new RunTraceIds();
  private readonly provider: BasicTracerProvider;
  private readonly tracer;
  private readonly policies: (stage: string, backend: string) => string;
  private readonly queued: (backend: string) => number;

  constructor(settings: TracingSettings, deps: OtelDeps) {
    const exporterOptions = { url: settings.endpoint };
    const exporter = settings.protocol === 'http/json' ? new JsonExporter(exporterOptions) : new ProtobufExporter(exporterOptions);
    deps.onExporter?.();
    const counted = new CountingExporter(
      exporter,
      settings.endpoint,
      deps.log,
      new Counter({ name: 'orla_trace_spans_exported_total', help: 'Spans handed to the OTLP exporter, by result (failed: dropped)', labelNames: ['result'], registers: [deps.registry] }),
      new Counter({ name: 'orla_trace_export_failures_total', help: 'OTLP export batches the collector did not take (unreachable, refused, timed out)', registers: [deps.registry] }),
    );
    this.provider = new BasicTracerProvider({
      resource: defaultResource().merge(resourceFromAttributes({ 'service.name': settings.serviceName, 'service.version': VERSION })),
      idGenerator: this.ids,
      // Decided on the trace id: a run is traced whole or not at all; a client's sampled flag is honoured.
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor(counted)],
    });
    this.tracer = this.provider.getTracer('orla', VERSION);
    this.policies = queuePolicies(deps.config);
    this.queued = deps.queued;
  }

  call(kind: RouteKind, exchange: Exchange, identity: Identity, incoming: Incoming): CallTrace {
    const parent = this.clientContext(incoming.forward);
    if (!parent && identity.run !== undefined) this.ids.next = runTraceId(runKey(identity.tenant, identity.run));
    const stage = identity.stage ?? 'default';
    const span = this.tracer.startSpan(`call ${stage}`, { kind: SpanKind.SERVER, startTime: exchange.started }, parent ?? ROOT_CONTEXT);
    this.ids.next = undefined;
    const requestModel = typeof incoming.body.model === 'string' ? incoming.body.model : undefined;
    return new CallSpans(this.tracer, span, { kind, exchange, identity, requestModel, joined: parent !== undefined, policies: this.policies, queued: this.queued });
  }

  cacheAction(run: RunRecord, action: CacheActionRecord, startedAt: number, cause: unknown): void {
    let parent: Context = ROOT_CONTEXT;
    if (isSpanContext(cause)) parent = trace.setSpanContext(ROOT_CONTEXT, cause);
    else this.ids.next = run.traceId ?? runTraceId(run.id); // no call set it off (the run ended idle, pressure): a root in the run's trace
    const span = this.tracer.startSpan(`cache ${action.action}`, { kind: SpanKind.CLIENT, startTime: startedAt }, parent);
    this.ids.next = undefined;
    if (span.isRecording()) {
      span.setAttributes({
        'orla.run.id': runIdOf(run),
        'orla.backend': action.backend,
        'orla.replica': action.replica,
        'orla.cache.action': action.action,
        'orla.cache.result': action.result,
        'orla.cache.reason': action.reason,
      });
      if (run.tenant !== undefined) span.setAttribute('orla.tenant', run.tenant);
      if (action.detail !== undefined) span.setAttribute('orla.cache.detail', action.detail);
      if (action.result === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: 'cache_action_failed' });
    }
    span.end();
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }

  /** The client's W3C trace context, when it sent a valid one: the call joins its trace. */
  private clientContext(headers: Record<string, string>): Context | undefined {
    const traceparent = headers.traceparent;
    if (traceparent === undefined) return undefined;
    const parsed = parseTraceParent(traceparent);
    if (!parsed || !trace.isSpanContextValid(parsed)) return undefined;
    const state = headers.tracestate;
    return trace.setSpanContext(ROOT_CONTEXT, { ...parsed, isRemote: true, ...(state ? { traceState: new TraceState(state) } : {}) });
  }
}

const isSpanContext = (value: unknown): value is SpanContext => typeof value === 'object' && value !== null && 'traceId' in value && 'spanId' in value;

