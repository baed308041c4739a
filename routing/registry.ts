import type { BackendConfig, Config } from '../config/schema.js';
import { Backend, Replica } from './backends.js';
import { CircuitBreaker } from './circuit.js';
import type { RoutingObserver } from './observer.js';
import type { Policies } from './scheduler/factory.js';
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
): Map<string, Backend> {
  const backends = new Map<string, Backend>();
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
    backends.set(name, new Backend(name, backend, replicas, stageScheduler, config.scheduler.aging_ms, observer, config.memory.affinity_load_factor));
  }
  return backends;
}

export async function closeBackends(backends: ReadonlyMap<string, Backend>): Promise<void> {
  await Promise.all([...backends.values()].flatMap((b) => b.replicas.map((r) => r.client.close())));
}
