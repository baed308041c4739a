import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { OrlaError } from '../errors.js';
import { createMapper } from '../routing/mappers/factory.js';
import { verifyModels } from '../routing/mappers/verify-models.js';
import { closeBackends, createBackends } from '../routing/registry.js';
import { loadPolicies, type Policies } from '../routing/scheduler/factory.js';
import { fcfsRequest, fcfsStage } from '../routing/scheduler/policies/fcfs.js';
import type { UpstreamClient, UpstreamResponse } from '../upstream/clients/types.js';
import { UndiciUpstream } from '../upstream/clients/undici.js';
import { DEFAULT_PROFILE, resolveProfile } from '../simulator/profiles.js';

export interface PreflightOptions {
  /** Where module paths in the config (custom policies, mappers, scores) are relative to. */
  baseDir: string;
  /**
   * With `verify_models: true` in the config, also ask each URL backend's replicas for their
   * /v1/models (in-process simulators answer from their profile, offline). Off: nothing is contacted.
   */
  verifyModels: boolean;
}

/**
 * Every mistake `orla serve` finds in a resolved config before it listens, found the way it finds
 * them (the same policy loader and mapper factory), without starting simulators or listening: the
 * scheduler names and policy modules, the mappers and their modules, and (when asked) the models.
 * Throws one ConfigError listing all of them, each with its key path. `serve` and `check` both run it.
 */
export async function preflight(config: Config, options: PreflightOptions): Promise<void> {
  const problems: string[] = [];
  const collect = (err: unknown) => {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  };
  // A policy mistake is reported; the rest is still checked, with fcfs standing in for it.
  const policies: Policies = await loadPolicies(config, options.baseDir).catch((err: unknown) => {
    collect(err);
    return { stage: () => fcfsStage, request: () => fcfsRequest };
  });
  const verify = options.verifyModels && config.verify_models;
  const simulated = new Map<string, readonly string[]>();
  const backends = createBackends(
    config,
    (name, backend) => {
      if (backend.urls) return backend.urls;
      const url = `http://${name}.in-process-simulator.invalid`;
      simulated.set(url, resolveProfile(backend.profile ?? DEFAULT_PROFILE).servedModels);
      return [url];
    },
    (url, timeouts) => {
      const served = simulated.get(url);
      if (served) return new OfflineUpstream(url, served);
      return verify ? new UndiciUpstream(url, timeouts) : new OfflineUpstream(url);
    },
    policies,
  );
  try {
    await createMapper(config, backends, { baseDir: options.baseDir }).catch(collect);
    if (verify) problems.push(...(await verifyModels(config, backends)));
  } finally {
    await closeBackends(backends);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** A replica that is not contacted: an in-process simulator answers /v1/models from its profile; anything else is refused. */
class OfflineUpstream implements UpstreamClient {
  constructor(readonly url: string, private readonly served?: readonly string[]) {}

  async request(request: { method: string; path: string }): Promise<UpstreamResponse> {
    if (!this.served || request.method !== 'GET' || request.path !== '/v1/models') throw new Error('offline: backends are not contacted');
    const bytes = new TextEncoder().encode(JSON.stringify({ object: 'list', data: this.served.map((id) => ({ id, object: 'model' })) }));
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: (async function* () {
        yield bytes;
      })(),
      readAll: async () => bytes,
      cancel: () => {},
    };
  }

  describeError(err: unknown, backend: string): OrlaError {
    return new OrlaError(502, `backend ${backend}: ${(err as Error).message}`, { type: 'upstream_error' });
  }

  async close(): Promise<void> {}
}
