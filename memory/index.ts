import type { Config } from '../config/schema.js';
import type { Backend } from '../routing/backends.js';
import { MemorySessionStore, type RunRecord } from '../sessions/runs.js';
import { authorization, engineOf, type CacheAdapter, type EngineCall } from '../upstream/engines/index.js';
import { MemoryManager, type MemoryObserver } from './manager.js';
import { PressureMonitor } from './pressure.js';

const CALL_TIMEOUT_MS = 5_000;

export interface Memory {
  manager: MemoryManager;
  pressure: PressureMonitor;
  stop(): void;
}

/** The memory manager of a gateway: run store, one engine adapter per backend, and the pressure monitor. */
export function createMemory(config: Config, backends: ReadonlyMap<string, Backend>, observer: MemoryObserver = {}): Memory {
  let manager!: MemoryManager;
  const store = new MemorySessionStore({
    maxRuns: config.memory.max_runs,
    idleTtlMs: config.memory.idle_ttl_s * 1000,
    expired: (run: RunRecord, why) => manager.expired(run, why),
  });
  const adapters = new Map<string, CacheAdapter>();
  for (const backend of backends.values()) {
    const modelOf = (run: string) => store.get(run)?.lastModel;
    adapters.set(backend.name, engineOf(backend.config.engine).cache({ call: callThrough(backend), slots: backend.config.slots, modelOf }));
  }
  manager = new MemoryManager(config, store, backends, adapters, observer);
  const pressure = new PressureMonitor(config, backends, adapters, manager);
  pressure.start();
  const sweep = setInterval(() => store.sweep(), Math.min(30_000, (config.memory.idle_ttl_s * 1000) / 4));
  sweep.unref();
  return {
    manager,
    pressure,
    stop: () => {
      pressure.stop();
      clearInterval(sweep);
    },
  };
}

/** Cache-control calls go through the backend's own upstream client, with its key. */
function callThrough(backend: Backend): EngineCall {
  return async (url, request) => {
    const replica = backend.replicas.find((r) => r.url === url);
    if (!replica) return { status: 0, text: 'no such replica' };
    const key = (request.admin ? backend.config.admin_api_key : undefined) ?? backend.config.api_key;
    const headers = { 'content-type': 'application/json', ...authorization(key) };
    const response = await replica.client.request({
      method: request.method,
      path: request.path,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs ?? CALL_TIMEOUT_MS),
    });
    return { status: response.status, text: new TextDecoder().decode(await response.readAll()) };
  };
}
