import { z } from 'zod';
import { ConfigError, validateConfig } from '../../config/load.js';
import { crossCheckMappers, mapperSchema, type MappingConfig } from '../../config/mappers.js';
import { configSchema, type Config } from '../../config/schema.js';
import type { Backend } from '../../routing/backend.js';
import { costOf, type TokenUsage } from '../../routing/cost.js';
import { dispatch } from '../../routing/dispatch.js';
import { createMapper } from '../../routing/mappers/factory.js';
import type { MapperObserver } from '../../routing/mappers/types.js';
import { closeBackends, createBackends } from '../../routing/registry.js';
import { chooseTarget } from '../../routing/reroute.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import type { StageMapper, Verdict } from '../../routing/types.js';
import { UndiciUpstream } from '../../upstream/clients/undici.js';
import { identify } from '../../sessions/identity.js';
import type { SweRequest } from './workload.js';

// Orla's routing layer driven directly, as the gateway's proxy drives it for a non-streaming chat
// completion: map → choose a target → the backend's two-level queue → the engine → usage and cost.

export interface Served {
  /** Submission to the last byte. */
  ms: number;
  status: number;
  backend: string;
  verdict: Verdict | undefined;
  usage: TokenUsage;
  /** The completion's cost plus its classification's. */
  costUsd: number;
}

export interface Router {
  complete(request: SweRequest, startedAt: number): Promise<Served>;
  /** What the classifier calls used and cost, and how many fell back. */
  readonly classification: { calls: number; promptTokens: number; cachedTokens: number; costUsd: number; fallbacks: number };
  close(): Promise<void>;
}

type MappedConfig = Config & MappingConfig;

/** A config with `mappers:`, whether or not config/schema.ts knows that section yet. */
export function mappingConfig(raw: Record<string, any>): MappedConfig {
  if ('mappers' in configSchema.shape) return validateConfig(raw, { env: {} }) as MappedConfig;
  const { mappers, stages, ...rest } = raw;
  const config = validateConfig({ ...rest, stages: {} }, { env: {} }) as MappedConfig;
  config.mappers = z.record(z.string(), mapperSchema).parse(mappers ?? {});
  config.stages = Object.fromEntries(Object.entries<any>(stages ?? {}).map(([name, s]) => [name, { fallbacks: [], weight: 1, ...s }]));
  const problems = crossCheckMappers(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

export async function startRouter(raw: Record<string, any>): Promise<Router> {
  const config = mappingConfig(raw);
  const policies = await loadPolicies(config, process.cwd());
  const backends = createBackends(config, (_name, b) => b.urls!, (url, timeouts) => new UndiciUpstream(url, timeouts), policies);
  const classification = { calls: 0, promptTokens: 0, cachedTokens: 0, costUsd: 0, fallbacks: 0 };
  const observer: MapperObserver = {
    internalUsage: (_backend, _stage, usage, costUsd) => {
      classification.calls++;
      classification.promptTokens += usage.promptTokens;
      classification.cachedTokens += usage.cachedTokens;
      classification.costUsd += costUsd;
    },
    classifierFailed: () => classification.fallbacks++,
  };
  const mapper = await createMapper(config, backends, { observer });
  return {
    complete: (request, startedAt) => complete(mapper, backends, request, startedAt),
    classification,
    close: () => closeBackends(backends),
  };
}

async function complete(
  mapper: StageMapper,
  backends: ReadonlyMap<string, Backend>,
  request: SweRequest,
  startedAt: number,
): Promise<Served> {
  const body: Record<string, unknown> = {
    model: 'orla:solve',
    messages: [
      { role: 'system', content: request.system },
      { role: 'user', content: request.user },
    ],
    temperature: 0,
    max_tokens: request.outputTokens,
    ignore_eos: true, // exactly outputTokens: the length the gold patch calls for
  };
  const identity = identify({ 'x-orla-workflow-run': request.id }, body);
  const mapped = await mapper.map({ identity, body });
  const { target } = chooseTarget(mapped, backends);
  if (target.model !== undefined) body.model = target.model;
  Object.assign(body, target.params);
  const backend = backends.get(target.backend)!;
  const text = JSON.stringify(body);
  const ticket = { stage: target.stage, run: identity.run, priority: 0, promptTokens: Math.ceil(text.length / 4) };
  const { lease, response } = await dispatch(backend, ticket, () => ({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: text }));
  const answer = JSON.parse(new TextDecoder().decode(await response.readAll())) as { usage?: Record<string, any> };
  const usage: TokenUsage = {
    promptTokens: answer.usage?.prompt_tokens ?? 0,
    completionTokens: answer.usage?.completion_tokens ?? 0,
    cachedTokens: answer.usage?.prompt_tokens_details?.cached_tokens ?? 0,
  };
  lease.release(response.status >= 500 ? 'failure' : 'success', usage.promptTokens + usage.completionTokens);
  return {
    ms: performance.now() - startedAt,
    status: response.status,
    backend: backend.name,
    verdict: target.mapped?.verdict,
    usage,
    costUsd: costOf(usage, backend.config.price) + (target.mapped?.costUsd ?? 0),
  };
}
