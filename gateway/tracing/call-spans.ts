import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OrlaError } from '../../errors.js';
import type { Identity } from '../../identity.js';
import type { Lease } from '../../routing/backend.js';
import type { DispatchObserver } from '../../routing/dispatch.js';
import type { ClassifierTrace, MapTrace, Target } from '../../routing/types.js';
import { runOp, type RunOp } from '../../state.js';
import type { Call } from '../call.js';
import type { Exchange } from '../exchange.js';
import type { Ending } from '../settle.js';
import type { RouteKind } from '../validate.js';
import type { CallTrace } from './types.js';
import { fail, OPERATION, propagation, typeOfStatus, usageAttributes } from './attributes.js';

// One call as spans, children of its `call <stage>` span: `identify`, `map <stage>` (with
// `classify <mapper>` when a classifier ran), per attempt `queue <stage>` and `<operation> <model>`
// (the engine's request: the parent of the engine's own spans). GenAI semantic conventions where
// they name an attribute, `orla.*` for the rest.

export interface CallFacts {
  kind: RouteKind;
  exchange: Exchange;
  identity: Identity;
  /** The body's `model`, if a string (not the body: a call's spans outlive its request). */
  requestModel: string | undefined;
  /** The call joined the client's trace (its traceparent) rather than its run's. */
  joined: boolean;
  policies: (stage: string, backend: string) => string;
  /** How many requests wait on a backend now (an attempt's position when it asks for a slot). */
  queued: (backend: string) => number;
}

export class CallSpans implements CallTrace {
  readonly runOps: readonly RunOp[];
  readonly mapping: MapTrace;
  readonly dispatch: DispatchObserver;
  readonly cause;
  private readonly recording: boolean;
  private readonly mapStart = performance.now();
  private mapSpan: Span | undefined;
  private classifier: Span | undefined;
  private target: Target | undefined;
  private attemptSpan: Span | undefined;
  private attemptStart = 0;
  private attempts = 0;
  /** When the current attempt asked for a slot, and how many requests were waiting then; cleared once it has one. */
  private waitStart: number | undefined;
  private waitingAhead = 0;
  private respondedStatus: number | undefined;
  private done = false;

  constructor(private readonly tracer: Tracer, private readonly span: Span, private readonly facts: CallFacts) {
    const context = span.spanContext();
    this.cause = context;
    this.recording = span.isRecording();
    this.runOps = facts.identity.run === undefined ? [] : [runOp.set('traceId', context.traceId)];
    this.mapping = { classifying: (mapper, backend, model) => this.classifying(mapper, backend, model) };
    this.dispatch = {
      acquiring: () => {
        this.waitStart = performance.now();
        this.waitingAhead = this.target ? facts.queued(this.target.backend) : 0;
      },
      retrying: (reason) => this.endAttempt({ 'orla.retry.reason': reason, 'orla.retried': true }, 'upstream_error'),
    };
    if (!this.recording) return;
    const { identity, exchange, kind } = facts;
    const attributes: Attributes = {
      'http.request.method': 'POST',
      'url.path': exchange.route,
      'gen_ai.operation.name': OPERATION[kind],
      'orla.request.id': exchange.id,
      'orla.trace.joined_client': facts.joined,
    };
    if (identity.run !== undefined) attributes['orla.run.id'] = identity.run;
    if (identity.tenant !== undefined) attributes['orla.tenant'] = identity.tenant;
    if (facts.requestModel !== undefined) attributes['orla.request.model'] = facts.requestModel;
    span.setAttributes(attributes);
    const identified: Attributes = { 'orla.run.inferred': identity.runInferred, 'orla.workflow_done': identity.workflowDone };
    if (identity.run !== undefined) identified['orla.run.id'] = identity.run;
    if (identity.stage !== undefined) identified['orla.stage.requested'] = identity.stage;
    if (identity.stageSource !== undefined) identified['orla.stage.source'] = identity.stageSource;
    if (identity.priority !== undefined) identified['orla.priority'] = identity.priority;
    if (identity.cache !== undefined) identified['orla.cache.hint'] = identity.cache;
    if (identity.mapping !== undefined) identified['orla.mapping'] = identity.mapping;
    if (identity.deadlineMs !== undefined) identified['orla.deadline_ms'] = identity.deadlineMs;
    for (const key in identity.tags) identified[`orla.tag.${key}`] = identity.tags[key]!;
    this.child('identify', exchange.started, identified).end(this.mapStart);
  }

  mapped(mapped: Target, target: Target): void {
    this.target = target;
    const span = this.mapSpan ?? this.child(`map ${target.stage}`, this.mapStart);
    if (this.mapSpan) span.updateName(`map ${target.stage}`);
    this.mapSpan = undefined;
    const stage = this.facts.identity.stage ?? target.stage;
    const model = target.model ?? this.facts.requestModel;
    if (this.recording) {
      const attributes: Attributes = { 'orla.stage': stage, 'orla.stage.configured': target.stage, 'orla.backend': target.backend };
      if (model !== undefined) attributes['gen_ai.request.model'] = model;
      if (mapped.mapped) {
        attributes['orla.mapper'] = mapped.mapped.mapper;
        if (mapped.mapped.verdict) attributes['orla.mapper.verdict'] = mapped.mapped.verdict;
        attributes['orla.mapper.cost_usd'] = mapped.mapped.costUsd;
      }
      if (target !== mapped) attributes['orla.rerouted_from'] = mapped.backend;
      span.setAttributes(attributes);
      this.span.setAttributes(attributes);
      this.span.updateName(`call ${stage}`);
    }
    span.end();
  }

  attempt(replica: string, lease: Lease, headers: Record<string, string>): Record<string, string> {
    const now = performance.now();
    this.attempts++;
    const target = this.target;
    if (this.recording && target) {
      this.child(`queue ${target.stage}`, now - lease.queueMs, {
        'orla.queue.stage': target.stage,
        'orla.backend': target.backend,
        'orla.queue.position': this.waitingAhead,
        'orla.queue.policy': this.facts.policies(target.stage, target.backend),
        'orla.queue.wait_ms': lease.queueMs,
        'orla.attempt': this.attempts,
      }).end(now);
    }
    this.waitStart = undefined;
    const model = target?.model ?? this.facts.requestModel ?? 'unknown';
    const attempt = this.child(`${OPERATION[this.facts.kind]} ${model}`, now, undefined, SpanKind.CLIENT);
    this.attemptSpan = attempt;
    this.attemptStart = now;
    this.respondedStatus = undefined;
    if (this.recording) {
      const url = new URL(replica);
      attempt.setAttributes({
        'gen_ai.operation.name': OPERATION[this.facts.kind],
        'gen_ai.request.model': model,
        'orla.backend': target?.backend ?? 'unknown',
        'orla.replica': replica,
        'server.address': url.hostname,
        'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        'orla.attempt': this.attempts,
      });
    }
    return { ...headers, ...propagation(attempt) };
  }

  responded(status: number): void {
    this.respondedStatus = status;
    this.attemptSpan?.setAttribute('http.response.status_code', status);
  }

  ended(call: Call, lease: Lease | undefined, ending: Ending, costUsd: number): void {
    if (this.done) return;
    this.done = true;
    const { status, usage } = ending;
    const failure = status >= 400 && status !== 499 ? typeOfStatus(status) : undefined;
    this.closeOpen(failure);
    const firstByteAt = call.exchange.firstByteAt;
    const midStream = failure !== undefined && this.respondedStatus !== undefined && this.respondedStatus < 300 && firstByteAt !== undefined;
    if (this.attemptSpan) {
      const attempt = this.attemptSpan;
      if (this.recording) {
        attempt.setAttributes(usageAttributes(usage));
        if (usage) attempt.setAttribute('orla.cost_usd', costUsd);
        if (firstByteAt !== undefined && firstByteAt >= this.attemptStart) {
          attempt.setAttribute('orla.ttft_ms', firstByteAt - this.attemptStart);
          attempt.addEvent('first chunk', firstByteAt);
        }
        if (midStream) attempt.addEvent('stream error', { 'error.type': failure, 'orla.error.message': ending.error ?? '' });
      }
      if (failure) fail(attempt, failure);
      attempt.end();
      this.attemptSpan = undefined;
    }
    if (this.recording) {
      const { exchange, plan } = call;
      const attributes: Attributes = { ...usageAttributes(usage), 'orla.stage': call.stage, 'orla.backend': call.backend.name, 'orla.attempts': this.attempts };
      if (status !== 499) attributes['http.response.status_code'] = status;
      else attributes['orla.client_gone'] = true;
      if (usage) attributes['orla.cost_usd'] = costUsd + call.mappingCostUsd;
      if (lease) {
        attributes['orla.replica'] = lease.replica.url;
        attributes['orla.queue_ms'] = lease.queueMs;
      }
      if (firstByteAt !== undefined) attributes['orla.ttfb_ms'] = firstByteAt - exchange.started;
      if (exchange.overheadMs !== undefined) attributes['orla.overhead_ms'] = exchange.overheadMs;
      if (plan) {
        attributes['orla.cache.decision'] = plan.decision;
        attributes['orla.cache.reason'] = plan.reason;
        if (lease) attributes['orla.cache.replica'] = plan.affinity === undefined ? 'new' : plan.affinity === lease.replica.url ? 'hit' : 'moved';
      }
      if (ending.toolCalls) attributes['orla.tool_calls'] = true;
      this.span.setAttributes(attributes);
      if (midStream) this.span.addEvent('stream error', { 'error.type': failure, 'orla.error.message': ending.error ?? '' });
      else if (failure && ending.error) this.span.setAttribute('orla.error.message', ending.error);
    }
    if (failure) fail(this.span, failure);
    this.span.end();
  }

  failed(err: unknown): void {
    if (this.done) return;
    this.done = true;
    const error = err instanceof OrlaError ? err : undefined;
    const status = error?.status ?? 500;
    const failure = status === 499 ? undefined : (error?.type ?? 'upstream_error');
    this.closeOpen(failure);
    if (this.attemptSpan) {
      if (failure) fail(this.attemptSpan, failure);
      this.attemptSpan.end();
    }
    if (this.recording) {
      this.span.setAttribute(status === 499 ? 'orla.client_gone' : 'http.response.status_code', status === 499 ? true : status);
      if (error && failure) this.span.setAttribute('orla.error.message', error.message);
    }
    if (failure) fail(this.span, failure);
    this.span.end();
  }

  private classifying(mapper: string, backend: string, model: string): ClassifierTrace {
    this.mapSpan ??= this.child('map', this.mapStart); // named once the stage is known
    const span = this.tracer.startSpan(`classify ${mapper}`, { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, this.mapSpan));
    this.classifier = span;
    if (this.recording) span.setAttributes({ 'orla.mapper': mapper, 'orla.backend': backend, 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': model });
    return {
      headers: propagation(span),
      ended: (outcome) => {
        if (this.classifier !== span) return;
        this.classifier = undefined;
        if (this.recording) {
          const attributes: Attributes = { ...usageAttributes(outcome.usage), 'orla.cost_usd': outcome.costUsd };
          if (outcome.verdict) attributes['orla.mapper.verdict'] = outcome.verdict;
          if (outcome.failed) attributes['orla.mapper.fallback_reason'] = outcome.failed;
          if (outcome.status !== undefined) attributes['http.response.status_code'] = outcome.status;
          span.setAttributes(attributes);
        }
        // The request goes on to the fallback side: the classifier's failure is not the call's.
        if (outcome.failed) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.failed === 'timeout' ? 'timeout_error' : outcome.failed === 'invalid' ? 'invalid_response' : 'upstream_error' });
        span.end();
      },
    };
  }

  /** The classifier, the mapping and a wait that never got a slot, still open when the call ends. */
  private closeOpen(failure: string | undefined): void {
    if (this.classifier) {
      this.classifier.end();
      this.classifier = undefined;
    }
    if (this.mapSpan) {
      this.mapSpan.end();
      this.mapSpan = undefined;
    }
    if (this.waitStart !== undefined && this.target) {
      const wait = this.child(`queue ${this.target.stage}`, this.waitStart, {
        'orla.queue.stage': this.target.stage,
        'orla.backend': this.target.backend,
        'orla.queue.position': this.waitingAhead,
        'orla.queue.policy': this.facts.policies(this.target.stage, this.target.backend),
        'orla.queue.wait_ms': performance.now() - this.waitStart,
        'orla.attempt': this.attempts + 1,
      });
      if (failure) fail(wait, failure);
      wait.end();
      this.waitStart = undefined;
    }
  }

  private endAttempt(attributes: Attributes, failure: string): void {
    const attempt = this.attemptSpan;
    if (!attempt) return;
    this.attemptSpan = undefined;
    if (this.recording) attempt.setAttributes(attributes);
    fail(attempt, failure);
    attempt.end();
  }

  /** A child of the call's span. */
  private child(name: string, startTime: number, attributes?: Attributes, kind = SpanKind.INTERNAL): Span {
    return this.tracer.startSpan(name, { kind, startTime, ...(attributes && this.recording ? { attributes } : {}) }, trace.setSpan(ROOT_CONTEXT, this.span));
  }
}
