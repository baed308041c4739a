import type { BackendConfig, Config } from '../config/schema.js';
import type { UpstreamClient, UpstreamClientFactory } from './upstream/types.js';

export interface Replica {
  readonly url: string;
  readonly client: UpstreamClient;
  inFlight: number;
}

/** One configured backend: its replicas of the same model server. */
export class Backend {
  private next = 0;

  constructor(readonly name: string, readonly config: BackendConfig, readonly replicas: readonly Replica[]) {}

  /** The least busy replica; ties rotate so idle replicas share the load. */
  pickReplica(): Replica {
    const count = this.replicas.length;
    let best = this.replicas[this.next % count]!;
    for (let i = 1; i < count; i++) {
      const candidate = this.replicas[(this.next + i) % count]!;
      if (candidate.inFlight < best.inFlight) best = candidate;
    }
    this.next = (this.next + 1) % count;
    return best;
  }
}

/**
 * The backends of a config. `urlsOf` supplies each backend's replica URLs (an in-process simulator's
 * are known only once it listens).
 */
export function createBackends(
  config: Config,
  urlsOf: (name: string, backend: BackendConfig) => readonly string[],
  connect: UpstreamClientFactory,
): Map<string, Backend> {
  const backends = new Map<string, Backend>();
  for (const [name, backend] of Object.entries(config.backends)) {
    const timeouts = {
      connectMs: backend.timeouts.connect_ms,
      firstByteMs: backend.timeouts.first_byte_ms,
      idleMs: backend.timeouts.idle_ms,
    };
    const replicas = urlsOf(name, backend).map((url) => ({ url, client: connect(url, timeouts), inFlight: 0 }));
    backends.set(name, new Backend(name, backend, replicas));
  }
  return backends;
}

export async function closeBackends(backends: Map<string, Backend>): Promise<void> {
  await Promise.all([...backends.values()].flatMap((b) => b.replicas.map((r) => r.client.close())));
}
