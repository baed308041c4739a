import type { BackendConfig, Config } from '../config/schema.js';
import { Backend } from './backend.js';
import type { SlotGate } from './capacity.js';
import { CircuitBreaker } from './circuit.js';
import type { RoutingObserver } from './observer.js';
import { replicaPicker } from './pickers/index.js';
import { Replica } from './replica.js';
import type { Policies } from './scheduler/factory.js';
import { fcfsRequest } from './scheduler/policies/fcfs.js';
import type { StageScheduler } from './scheduler/types.js';
import type { StagePolicy } from './stage-queues.js';
import type { UpstreamClientFactory } from '../upstream/clients/types.js';

/**
 * The backends of a config. `urlsOf` supplies each backend's replica URLs (an in-process simulator's
 * are known only once it listens).
 */
export function createBackends(
  config: Config,
  urlsOf: (name: string, backend: BackendConfig) => readonly string[],
  connect: UpstreamClientFactory,
  policies: Policies,
  observer: RoutingObserver = {},
  /** This gateway's part of every backend's limits (a fleet's share); default: all of them. */
  gate?: SlotGate,
): Map<string, Backend> {
  const backends = new Map<string, Backend>();
  const balance = { margin: config.memory.affinity_load_margin, factor: config.memory.affinity_load_factor };
  for (const [name, backend] of Object.entries(config.backends)) {
    const timeouts = {
      connectMs: backend.timeouts.connect_ms,
      firstByteMs: backend.timeouts.first_byte_ms,
      idleMs: backend.timeouts.idle_ms,
    };
    const replicas = urlsOf(name, backend).map((url) => {
      const circuit = new CircuitBreaker(backend.circuit.failures, backend.circuit.open_ms, (state) => observer.circuit?.(name, url, state));
      return new Replica(url, connect(url, timeouts), circuit);
    });
    const stageScheduler = policies.stage(backend.scheduler ?? config.scheduler.stage);
    backends.set(
      name,
      new Backend(name, backend, replicas, {
        stageScheduler,
        stagePolicy: stagePolicies(config, policies, stageScheduler),
        picker: replicaPicker({ affinity: config.memory.affinity, balance }),
        tenantWeight: Object.keys(config.tenants).length > 0 ? (tenant) => config.tenants[tenant]?.weight ?? 1 : undefined,
        agingMs: config.scheduler.aging_ms,
        observer,
        ...(gate ? { gate } : {}),
      }),
    );
  }
  return backends;
}

/**
 * Each configured stage's queue policy on a backend: the stage's own `scheduler`, else
 * `scheduler.request`, else the order of the backend's stage policy, else oldest first.
 */
function stagePolicies(config: Config, policies: Policies, stageScheduler: StageScheduler): (stage: string) => StagePolicy {
  const fallback = config.scheduler.request ? policies.request(config.scheduler.request) : (stageScheduler.withinStage ?? fcfsRequest);
  const byStage = new Map(
    Object.entries(config.stages).map(([stage, s]) => [stage, { requestScheduler: s.scheduler ? policies.request(s.scheduler) : fallback, weight: s.weight }]),
  );
  const other = { requestScheduler: fallback, weight: 1 };
  return (stage) => byStage.get(stage) ?? other;
}

export async function closeBackends(backends: ReadonlyMap<string, Backend>): Promise<void> {
  await Promise.all([...backends.values()].flatMap((b) => b.replicas.map((r) => r.client.close())));
}
