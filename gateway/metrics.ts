import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
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

export class GatewayMetrics {
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
  readonly inFlight = new Gauge({
    name: 'orla_requests_in_flight',
    help: 'Requests sent to a backend and not yet finished.',
    labelNames: ['backend'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'orla_process_' });
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
