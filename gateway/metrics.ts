import { Counter, Gauge, Registry, collectDefaultMetrics, type LabelValues } from 'prom-client';
import type { CircuitState } from '../routing/circuit.js';
import type { MemoryObserver } from '../memory/index.js';
import type { TokenUsage } from '../routing/cost.js';
import type { FallbackReason, MapperObserver } from '../routing/mappers/types.js';
import type { RoutingObserver } from '../routing/observer.js';
import type { Verdict } from '../routing/types.js';
import { BoundHistogram, type HistogramSeries } from './histogram.js';
import { Tally } from './tally.js';
import type { Usage } from './usage.js';
import type { StateStoreObserver } from './fleet.js';

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
  costUsd: number | undefined;
}

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class GatewayMetrics implements MapperObserver, RoutingObserver, MemoryObserver, StateStoreObserver {
  readonly registry = new Registry();
  private readonly tallies: Tally[] = [];
  /** Every tallied metric's `collect`: all tallies are handed over before any of them is read. */
  private readonly flushTallies = () => {
    for (const tally of this.tallies) tally.flush();
  };
  private tally(metric: Counter | Gauge, labels: LabelValues<string>): Tally {
    metric.inc(labels, 0); // the series exists (at 0) from its first use, even if it nets to nothing
    const tally = new Tally(metric, labels);
    this.tallies.push(tally);
    return tally;
  }
  private readonly requests = new Counter({
    name: 'orla_requests_total',
    help: 'Requests by route, stage, backend and status.',
    labelNames: ['route', 'stage', 'backend', 'status'],
    registers: [this.registry],
    collect: this.flushTallies,
  });
  // Histograms by route, stage and backend (the overhead by route).
  private readonly duration = new BoundHistogram('orla_request_duration_seconds', 'Time from request to the last byte of the response.', LATENCY_BUCKETS, this.registry);
  private readonly firstByte = new BoundHistogram(
    'orla_time_to_first_byte_seconds',
    'Time from request to the first byte of the engine\'s response reaching the client.',
    LATENCY_BUCKETS,
    this.registry,
  );
  private readonly overhead = new BoundHistogram('orla_overhead_seconds', 'Time spent in Orla itself (as X-Orla-Overhead-Ms).', OVERHEAD_BUCKETS, this.registry);
  private readonly tokens = new Counter({
    name: 'orla_tokens_total',
    help: 'Tokens by stage, backend and kind (prompt, cached, completion), as the engines report them.',
    labelNames: ['stage', 'backend', 'kind'],
    registers: [this.registry],
    collect: this.flushTallies,
  });
  private readonly inFlightGauge = new Gauge({
    name: 'orla_requests_in_flight',
    help: 'Requests sent to a backend and not yet finished, by backend and stage.',
    labelNames: ['backend', 'stage'],
    registers: [this.registry],
    collect: this.flushTallies,
  });
  private readonly queueDepthGauge = new Gauge({
    name: 'orla_queue_depth',
    help: 'Requests waiting for a slot, by backend and stage.',
    labelNames: ['backend', 'stage'],
    registers: [this.registry],
  });
  private readonly queueWait = new BoundHistogram(
    'orla_queue_wait_seconds',
    'Time from arrival in a backend\'s queue to dispatch.',
    [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    this.registry,
  );
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

  private readonly cost = new Counter({
    name: 'orla_cost_usd_total',
    help: 'Estimated cost in USD (engine-reported tokens at the backend\'s prices), by backend and stage; classifier calls under onebit:<mapper>.',
    labelNames: ['backend', 'stage'],
    registers: [this.registry],
    collect: this.flushTallies,
  });
  private readonly mapperDecisions = new Counter({
    name: 'orla_mapper_decisions_total',
    help: 'Requests a dynamic mapper mapped, by mapper, verdict (simple, complex, fallback, none) and whether a cached verdict answered.',
    labelNames: ['mapper', 'verdict', 'cached'],
    registers: [this.registry],
  });
  private readonly mapperFallbacks = new Counter({
    name: 'orla_mapper_fallbacks_total',
    help: 'Classifier calls that could not decide (timeout, error, invalid answer): the request went to the fallback side.',
    labelNames: ['mapper', 'reason'],
    registers: [this.registry],
  });

  /** Reads each limited tenant's load when scraped (nothing per request). */
  watchTenants(load: () => Iterable<{ tenant: string; waiting: number; inFlight: number }>): void {
    new Gauge({
      name: 'orla_tenant_requests',
      help: 'Requests of each tenant with limits, waiting (for its max_concurrency or a backend slot) or in flight.',
      labelNames: ['tenant', 'state'],
      registers: [this.registry],
      collect() {
        for (const t of load()) {
          this.set({ tenant: t.tenant, state: 'waiting' }, t.waiting);
          this.set({ tenant: t.tenant, state: 'in_flight' }, t.inFlight);
        }
      },
    });
  }

  /** `processMetrics: false` leaves out prom-client's process collector (Node-only: Workers have no process to report). */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'orla_process_' });
    this.stateStoreUp.set(1); // the in-memory store always answers
  }

  // The tallies and histogram children of a label set are made once and kept (the label sets are
  // bounded by the config).
  private readonly children = new Map<string, RequestChildren>();
  private readonly backendChildren = new Map<string, BackendChildren>();
  private readonly inFlightTallies = new Map<string, Tally>();

  private requestChildren(r: RequestRecord): RequestChildren {
    const key = `${r.route}\u0000${r.stage}\u0000${r.backend}\u0000${r.status}`;
    let found = this.children.get(key);
    if (!found) {
      const labels = { route: r.route, stage: r.stage, backend: r.backend };
      const tokens = { stage: r.stage, backend: r.backend };
      found = {
        requests: this.tally(this.requests, { ...labels, status: r.status }),
        duration: this.duration.labels(labels),
        firstByte: this.firstByte.labels(labels),
        overhead: this.overhead.labels({ route: r.route }),
        prompt: this.tally(this.tokens, { ...tokens, kind: 'prompt' }),
        cached: this.tally(this.tokens, { ...tokens, kind: 'cached' }),
        completion: this.tally(this.tokens, { ...tokens, kind: 'completion' }),
        cost: this.tally(this.cost, { backend: r.backend, stage: r.stage }),
      };
      this.children.set(key, found);
    }
    return found;
  }

  private backendOf(backend: string): BackendChildren {
    let found = this.backendChildren.get(backend);
    if (!found) {
      found = { queueWait: this.queueWait.labels({ backend }) };
      this.backendChildren.set(backend, found);
    }
    return found;
  }

  private readonly cacheActions = new Counter({
    name: 'orla_cache_actions_total',
    help: 'What the memory manager asked of engines, and what came of it (ok, refused, unsupported, failed, skipped).',
    labelNames: ['engine', 'action', 'result'],
    registers: [this.registry],
  });
  private readonly runsEnded = new Counter({
    name: 'orla_runs_expired_total',
    help: 'Runs dropped from the run store: idle past the TTL, or evicted for room.',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  private readonly stateStoreUp = new Gauge({
    name: 'orla_state_store_up',
    help: 'Whether the run store answers: 1, or 0 while this gateway serves from its local state (state.store: redis).',
    registers: [this.registry],
  });
  private readonly fleetGateways = new Gauge({
    name: 'orla_fleet_gateways',
    help: 'Gateways of the fleet this one shares runs and limits with, itself included (the last known number while Redis is down).',
    registers: [this.registry],
  });
  private readonly fleetSlots = new Gauge({
    name: 'orla_fleet_slots',
    help: "This gateway's share of a backend's max_concurrency per replica, granted at its latest heartbeat.",
    labelNames: ['backend'],
    registers: [this.registry],
  });

  // StateStoreObserver: the shared state store and this gateway's place in the fleet.
  stateStore(up: boolean): void {
    this.stateStoreUp.set(up ? 1 : 0);
  }
  fleet(gateways: number): void {
    this.fleetGateways.set(gateways);
  }
  share(backend: string, slots: number): void {
    this.fleetSlots.set({ backend }, slots);
  }

  // MemoryObserver
  cacheAction(engine: string, action: string, result: string): void {
    this.cacheActions.inc({ engine, action, result });
  }
  runEnded(why: 'idle' | 'evicted'): void {
    this.runsEnded.inc({ reason: why });
  }

  // RoutingObserver: what the backends' queues report.
  queueDepth(backend: string, stage: string, delta: number): void {
    this.queueDepthGauge.inc({ backend, stage }, delta);
  }
  waited(backend: string, _stage: string, ms: number): void {
    this.backendOf(backend).queueWait.observe(ms / 1000);
  }
  rejected(backend: string, reason: string): void {
    this.rejections.inc({ backend, reason });
  }
  circuit(backend: string, replica: string, state: CircuitState): void {
    this.circuitGauge.set({ backend, replica }, CIRCUIT_VALUE[state]);
  }
  inFlight(backend: string, stage: string, delta: number): void {
    const key = `${backend}\u0000${stage}`;
    let tally = this.inFlightTallies.get(key);
    if (!tally) this.inFlightTallies.set(key, (tally = this.tally(this.inFlightGauge, { backend, stage })));
    tally.add(delta);
  }

  record(r: RequestRecord): void {
    const m = this.requestChildren(r);
    m.requests.add();
    m.duration.observe(r.seconds);
    if (r.firstByteSeconds !== undefined) m.firstByte.observe(r.firstByteSeconds);
    if (r.overheadSeconds !== undefined) m.overhead.observe(r.overheadSeconds);
    if (r.usage) {
      m.prompt.add(r.usage.promptTokens);
      m.cached.add(r.usage.cachedTokens);
      m.completion.add(r.usage.completionTokens);
    }
    if (r.costUsd) m.cost.add(r.costUsd);
  }

  // MapperObserver: what dynamic mappers report.
  mapped(mapper: string, verdict: Verdict | undefined, cached: boolean): void {
    this.mapperDecisions.inc({ mapper, verdict: verdict ?? 'none', cached: String(cached) });
  }
  classifierFailed(mapper: string, reason: FallbackReason): void {
    this.mapperFallbacks.inc({ mapper, reason });
  }
  internalUsage(backend: string, stage: string, usage: TokenUsage, costUsd: number): void {
    this.tokens.inc({ stage, backend, kind: 'prompt' }, usage.promptTokens);
    this.tokens.inc({ stage, backend, kind: 'cached' }, usage.cachedTokens);
    this.tokens.inc({ stage, backend, kind: 'completion' }, usage.completionTokens);
    if (costUsd > 0) this.cost.inc({ backend, stage }, costUsd);
  }
}

interface RequestChildren {
  requests: Tally;
  duration: HistogramSeries;
  firstByte: HistogramSeries;
  overhead: HistogramSeries;
  prompt: Tally;
  cached: Tally;
  completion: Tally;
  cost: Tally;
}

interface BackendChildren {
  queueWait: HistogramSeries;
}
