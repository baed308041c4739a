import { z } from 'zod';
import { ConfigError, validateConfig } from '../../config/load.js';
import { backendMapperKeys, crossCheckMappers, mapperConfigKeys, type MapperConfig } from '../../config/mappers.js';
import { configSchema, type Config } from '../../config/schema.js';
import type { Backend } from '../../routing/backend.js';
import type { TokenUsage } from '../../routing/cost.js';
import { dispatch } from '../../routing/dispatch.js';
import { createMapper } from '../../routing/mappers/factory.js';
import type { FallbackReason, MapperObserver } from '../../routing/mappers/types.js';
import { closeBackends, createBackends } from '../../routing/registry.js';
import { chooseTarget } from '../../routing/reroute.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import type { StageMapper, Target, Verdict } from '../../routing/types.js';
import type { UpstreamClient, UpstreamRequest } from '../../upstream/clients/types.js';
import { UndiciUpstream } from '../../upstream/clients/undici.js';
import { identify } from '../../sessions/identity.js';

// Stage mapping at the routing level, through real HTTP to simulated engines: the backends the
// gateway builds, the mapper createMapper builds, and a request served the way the proxy serves it.

export type MappedConfig = Config & { mappers: Record<string, MapperConfig>; verify_models: boolean };

/**
 * A config with `mappers`, validated as the gateway will: by config/load.ts once config/mappers.ts is
 * plugged into the schema; until then the mapping keys here and the rest there.
 */
export function mappingConfig(raw: Record<string, any>): MappedConfig {
  if ('mappers' in configSchema.shape) return validateConfig(raw, { env: {} }) as MappedConfig;
  const { mappers, verify_models, ...rest } = raw;
  const someBackend = Object.keys(raw.backends ?? {})[0];
  const stages: Record<string, any> = {};
  for (const [name, { mapper, ...stage }] of Object.entries<any>(raw.stages ?? {})) stages[name] = mapper === undefined ? stage : { backend: someBackend, ...stage };
  const backends: Record<string, any> = {};
  for (const [name, { quality, ...backend }] of Object.entries<any>(raw.backends ?? {})) backends[name] = backend;
  const base = validateConfig({ ...rest, stages, backends }, { env: {} });
  const keys = z
    .object({ ...mapperConfigKeys, backends: z.record(z.string(), z.object(backendMapperKeys)) })
    .safeParse({ mappers, verify_models, backends: raw.backends });
  if (!keys.success) throw new ConfigError(keys.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const config = { ...base, mappers: keys.data.mappers, verify_models: keys.data.verify_models } as MappedConfig;
  for (const [name, stage] of Object.entries<any>(raw.stages ?? {})) {
    if (stage.mapper !== undefined) Object.assign(config.stages[name]!, { backend: stage.backend, mapper: stage.mapper });
  }
  for (const [name, backend] of Object.entries<any>(raw.backends ?? {})) {
    if (backend.quality !== undefined) Object.assign(config.backends[name]!, { quality: backend.quality });
  }
  const problems = crossCheckMappers(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

export interface Sent {
  url: string;
  path: string;
  body: Record<string, any>;
}

export interface Observed {
  mapped: { mapper: string; verdict: Verdict | undefined; cached: boolean }[];
  failed: { mapper: string; reason: FallbackReason }[];
  usage: { backend: string; stage: string; usage: TokenUsage; costUsd: number }[];
}

export interface World {
  config: MappedConfig;
  backends: Map<string, Backend>;
  mapper: StageMapper;
  /** Every request the backends' clients sent, in order. */
  sent: Sent[];
  /** `x-sim-fault` to add to requests sent to a URL (the simulator must run with `faults: true`). */
  faults: Map<string, string>;
  observed: Observed;
  close(): Promise<void>;
}

export async function startWorld(raw: Record<string, any>, baseDir?: string): Promise<World> {
  const config = mappingConfig(raw);
  const sent: Sent[] = [];
  const faults = new Map<string, string>();
  const connect = (url: string, timeouts: ConstructorParameters<typeof UndiciUpstream>[1]): UpstreamClient => {
    const inner = new UndiciUpstream(url, timeouts);
    return {
      url,
      request: (request: UpstreamRequest) => {
        sent.push({ url, path: request.path, body: request.body ? JSON.parse(request.body) : {} });
        const fault = faults.get(url);
        return inner.request(fault ? { ...request, headers: { ...request.headers, 'x-sim-fault': fault } } : request);
      },
      describeError: (err, backend) => inner.describeError(err, backend),
      close: () => inner.close(),
    };
  };
  const policies = await loadPolicies(config, baseDir ?? process.cwd());
  const backends = createBackends(config, (_name, b) => b.urls!, connect, policies);
  const observed: Observed = { mapped: [], failed: [], usage: [] };
  const observer: MapperObserver = {
    mapped: (mapper, verdict, cached) => observed.mapped.push({ mapper, verdict, cached }),
    classifierFailed: (mapper, reason) => observed.failed.push({ mapper, reason }),
    internalUsage: (backend, stage, usage, costUsd) => observed.usage.push({ backend, stage, usage, costUsd }),
  };
  const mapper = await createMapper(config, backends, { observer, ...(baseDir ? { baseDir } : {}) });
  return { config, backends, mapper, sent, faults, observed, close: () => closeBackends(backends) };
}

export interface Call {
  content: string;
  stage?: string;
  headers?: Record<string, string>;
  /** More request fields (max_tokens, …). */
  extra?: Record<string, unknown>;
  signal?: AbortSignal;
}

export const chatBody = (content: string): Record<string, unknown> => ({
  model: 'client-model',
  messages: [{ role: 'user', content }],
  max_tokens: 8,
});

/** Maps a request only. */
export async function mapOnly(world: World, call: Call): Promise<Target> {
  const body = { ...chatBody(call.content), ...call.extra };
  const identity = identify({ ...(call.stage ? { 'x-orla-stage': call.stage } : {}), ...call.headers }, body);
  return world.mapper.map({ identity, body, signal: call.signal });
}

/** Maps a request and serves it the way the proxy does: the target's queue, model and params. */
export async function serve(world: World, call: Call): Promise<{ target: Target; status: number; json: any }> {
  const body = { ...chatBody(call.content), ...call.extra };
  const identity = identify({ ...(call.stage ? { 'x-orla-stage': call.stage } : {}), ...call.headers }, body);
  const { target } = chooseTarget(await world.mapper.map({ identity, body, signal: call.signal }), world.backends);
  if (target.model !== undefined) body.model = target.model;
  Object.assign(body, target.params);
  const backend = world.backends.get(target.backend)!;
  const text = JSON.stringify(body);
  const ticket = { stage: target.stage, run: identity.run, priority: 0, promptTokens: 10 };
  const { lease, response } = await dispatch(backend, ticket, () => ({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: text }));
  const json = JSON.parse(new TextDecoder().decode(await response.readAll()));
  lease.release(response.status >= 500 ? 'failure' : 'success');
  return { target, status: response.status, json };
}

/** Sum of in-flight requests on a backend's replicas. */
export const inFlight = (backend: Backend): number => backend.replicas.reduce((sum, r) => sum + r.inFlight, 0);

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. Never a fixed sleep. */
export { until } from '../helpers/wait.js';

/** The classifier's answer as the simulator's test hook: the request's text carries the verdict to say. */
export const verdictSays = (text: string, answer: string): string => `[[sim:answer ${answer}]] ${text}`;
