import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Memory, type MemoryBackend, type MemoryObserver } from '../memory/index.js';
import type { AdmissionBackend } from '../routing/admission-backend.js';
import { MemoryRunStore } from '../sessions/memory-store.js';
import { Runs } from '../sessions/runs.js';
import type { OnExpired, RunStore } from '../state.js';
import { authorization, type EngineCall } from '../upstream/engines/index.js';

const CALL_TIMEOUT_MS = 5_000;

export interface Core {
  runs: Runs;
  memory: Memory;
  /** Starts the background work: the idle sweep and the pressure monitor. */
  start(): void;
  stop(): Promise<void>;
}

/**
 * The run state and the memory manager of a gateway, over its backends, whatever its runtime: the
 * run store (in memory unless one is given), the runs that own it, and memory, told when a run is
 * dropped from the store so that it releases what the run held.
 */
export function createCore(
  config: Config,
  backends: ReadonlyMap<string, AdmissionBackend>,
  options: { store?: RunStore; storeFor?: (onExpired: OnExpired) => RunStore; observer?: MemoryObserver; log: Logger },
): Core {
  let memory!: Memory;
  const idleTtlMs = config.memory.idle_ttl_s * 1000;
  const onExpired: OnExpired = (run, why) => memory.ended(run, why);
  const store = options.store ?? options.storeFor?.(onExpired) ?? new MemoryRunStore({ maxRuns: config.memory.max_runs, idleTtlMs, onExpired });
  const runs = new Runs(store);
  memory = new Memory(config, [...backends.values()].map(memoryBackend), store, options.observer);
  let sweep: ReturnType<typeof setInterval> | undefined;
  return {
    runs,
    memory,
    start() {
      memory.start();
      sweep = setInterval(() => store.sweep(Date.now()).catch((err: unknown) => options.log.warn({ err }, 'run sweep failed')), Math.min(30_000, idleTtlMs / 4));
      sweep.unref?.();
    },
    async stop() {
      memory.stop();
      clearInterval(sweep);
      await store.close();
    },
  };
}

/** A backend as memory sees it: its replicas, their load, and cache-control calls through each replica's own client. */
export function memoryBackend(backend: AdmissionBackend): MemoryBackend {
  const replica = (url: string) => backend.replicas.find((r) => r.url === url);
  const call: EngineCall = async (url, request) => {
    const client = replica(url)?.client;
    if (!client) return { status: 0, text: 'no such replica' };
    const key = (request.admin ? backend.config.admin_api_key : undefined) ?? backend.config.api_key;
    const response = await client.request({
      method: request.method,
      path: request.path,
      headers: { 'content-type': 'application/json', ...authorization(key) },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs ?? CALL_TIMEOUT_MS),
    });
    return { status: response.status, text: new TextDecoder().decode(await response.readAll()) };
  };
  return { name: backend.name, config: backend.config, replicas: backend.replicas.map((r) => r.url), inFlight: (url) => fleetInFlight(replica(url)), call };
}

/** Requests in flight on a replica: this gateway's, and in a fleet the others' as of their latest heartbeat. */
const fleetInFlight = (replica: AdmissionBackend['replicas'][number] | undefined) => (replica ? replica.inFlight + replica.elsewhere : 0);
