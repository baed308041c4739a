import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CircuitState } from '../routing/circuit.js';
import type { RoutingObserver } from '../routing/observer.js';
import type { Usage } from './usage.js';

// Labels use the configured stage (not the requested name) so their number is bounded by the config.

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05];

export interface RequestRecord {
  route: string;
  stage: string;
  backend: string;
  status: number;
  seconds: number;
  firstByteSeconds: number | undefined;
  overheadSeconds: number | undefined;
  usage: Usage | undefined;
}

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class GatewayMetrics implements RoutingObserver {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'orla_requests_total',
    help: 'Requests by route, stage, backend and status.',
    labelNames: ['route', 'stage', 'backend', 'status'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'orla_request_duration_seconds',
    help: 'Time from request to the last byte of the response.',
    labelNames: ['route', 'stage', 'backend'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly firstByte = new Histogram({
    name: 'orla_time_to_first_byte_seconds',
    help: 'Time from request to the first byte of the engine\'s response reaching the client.',
    labelNames: ['route', 'stage', 'backend'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly overhead = new Histogram({
    name: 'orla_overhead_seconds',
    help: 'Time spent in Orla itself (as X-Orla-Overhead-Ms).',
    labelNames: ['route'],
    buckets: OVERHEAD_BUCKETS,
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: 'orla_tokens_total',
    help: 'Tokens by stage, backend and kind (prompt, cached, completion), as the engines report them.',
    labelNames: ['stage', 'backend', 'kind'],
    registers: [this.registry],
  });
  private readonly inFlightGauge = new Gauge({
    name: 'orla_requests_in_flight',
    help: 'Requests sent to a backend and not yet finished.',
    labelNames: ['backend'],
    registers: [this.registry],
  });
  private readonly queueDepthGauge = new Gauge({
    name: 'orla_queue_depth',
    help: 'Requests waiting for a slot, by backend and stage.',
    labelNames: ['backend', 'stage'],
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'orla_queue_wait_seconds',
    help: 'Time from arrival in a backend\'s queue to dispatch.',
    labelNames: ['backend'],
    buckets: [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: 'orla_rejections_total',
    help: 'Requests turned away before dispatch: queue full (429), deadline (408), circuit open (503).',
    labelNames: ['backend', 'reason'],
    registers: [this.registry],
  });
  private readonly circuitGauge = new Gauge({
    name: 'orla_circuit_state',
    help: 'Each replica\'s circuit: 0 closed, 1 half-open, 2 open.',
    labelNames: ['backend', 'replica'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'orla_process_' });
  }

  // RoutingObserver: what the backends' queues report.
  queueDepth(backend: string, stage: string, delta: number): void {
    this.queueDepthGauge.inc({ backend, stage }, delta);
  }
  waited(backend: string, _stage: string, ms: number): void {
    this.queueWait.observe({ backend }, ms / 1000);
  }
  rejected(backend: string, reason: string): void {
    this.rejections.inc({ backend, reason });
  }
  circuit(backend: string, replica: string, state: CircuitState): void {
    this.circuitGauge.set({ backend, replica }, CIRCUIT_VALUE[state]);
  }
  inFlight(backend: string, delta: number): void {
    this.inFlightGauge.inc({ backend }, delta);
  }

  record(r: RequestRecord): void {
    this.requests.inc({ route: r.route, stage: r.stage, backend: r.backend, status: r.status });
    const labels = { route: r.route, stage: r.stage, backend: r.backend };
    this.duration.observe(labels, r.seconds);
    if (r.firstByteSeconds !== undefined) this.firstByte.observe(labels, r.firstByteSeconds);
    if (r.overheadSeconds !== undefined) this.overhead.observe({ route: r.route }, r.overheadSeconds);
    if (r.usage) {
      const at = { stage: r.stage, backend: r.backend };
      this.tokens.inc({ ...at, kind: 'prompt' }, r.usage.promptTokens);
      this.tokens.inc({ ...at, kind: 'cached' }, r.usage.cachedTokens);
      this.tokens.inc({ ...at, kind: 'completion' }, r.usage.completionTokens);
    }
  }
}
