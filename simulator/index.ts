// Start a simulated inference engine in-process: tests, benchmarks and the gateway's embedded
// default use this; `orla sim` wraps it for the command line.
import type { AddressInfo } from 'node:net';
import { Engine } from './engine.js';
import { createPersonality, type PersonalityName, type PersonalityOptions } from './personalities/index.js';
import { DEFAULT_PROFILE, resolveProfile, type EngineProfile } from './profiles.js';
import { createSimulatorServer } from './server.js';

export { Engine, EngineRejection } from './engine.js';
export type { EngineStats, GenerationRequest, GenerationResult, GenerationHandle } from './engine.js';
export { DEFAULT_PROFILE, profileNames, resolveProfile } from './profiles.js';
export type { EngineProfile } from './profiles.js';
export { FAULT_HEADER } from './faults.js';
export { SESSION_HEADER } from './generate.js';
export { PREFIX_CACHE_RESET_HEADER, SGLANG_FLUSH_TEXT } from './personalities/common.js';
export { PERSONALITY_NAMES } from './personalities/index.js';
export type { LlamacppOptions, PersonalityName, PersonalityOptions, SglangOptions, VllmOptions } from './personalities/index.js';

export interface SimulatorOptions extends PersonalityOptions {
  /**
   * Which engine to answer as: 'simulator' (default: vLLM's wire format with every cache control),
   * 'vllm', 'sglang' or 'llamacpp' (see simulator/README.md); the other options named after an
   * engine's flags apply to that personality only.
   */
  personality?: PersonalityName;
  /** qwen3-8b-h100 (default), qwen3-4b-h100 or instant. */
  profile?: string;
  /** Simulated seconds per wall second (default 1). */
  speed?: number;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Honour the x-sim-fault request header. */
  faults?: boolean;
  /** Served model names, replacing the profile's. */
  models?: string[];
  kvCapacityTokens?: number;
  /** Any other profile field (maxBatch, stepTokenBudget, …), mostly for tests. */
  profileOverrides?: Partial<EngineProfile>;
}

export interface RunningSimulator {
  /** http://HOST:PORT, connectable (a wildcard host becomes 127.0.0.1). */
  url: string;
  port: number;
  engine: Engine;
  /** Aborts every request, drops every connection, stops the engine. */
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const profile = resolveProfile(options.profile ?? DEFAULT_PROFILE, {
    ...options.profileOverrides,
    servedModels: options.models?.length ? [...options.models] : options.profileOverrides?.servedModels,
    kvCapacityTokens: options.kvCapacityTokens ?? options.profileOverrides?.kvCapacityTokens,
  });
  const engine = new Engine({ profile, speed: options.speed });
  const personality = createPersonality(options.personality ?? 'simulator', engine, profile.servedModels[0]!, options);
  const server = createSimulatorServer({ engine, models: profile.servedModels, faults: options.faults ?? false, personality });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${connectableHost(host)}:${port}`,
    port,
    engine,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        personality.close?.();
        engine.close();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function connectableHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
