import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { ENGINE_ONLY_FIELDS, engineOf, enginesReading, type EngineKind } from '../upstream/engines/index.js';

// The `mappers:` section and the keys stage mapping adds elsewhere (DESIGN.md, "Configuration").
// config/schema.ts spreads these in; crossCheckMappers runs with config/load.ts's cross-checks.

const positiveInt = z.number().int().positive();
const params = z.record(z.string(), z.unknown());

/** One place a mapper can send a request: a backend, and the model and request fields to use there. */
const side = z.strictObject({
  backend: z.string(),
  model: z.string().optional(),
  params: params.optional(),
});

export const PROMPT_PRESETS = ['general', 'swe-bench'] as const;

const onebit = z.strictObject({
  kind: z.literal('onebit'),
  /** The model that judges each request; its call waits in the backend's queue as stage `onebit:<mapper>`. */
  classifier: z.strictObject({
    backend: z.string(),
    model: z.string(),
    /** Extra request fields, e.g. `chat_template_kwargs: { enable_thinking: false }` for Qwen3 on vLLM or SGLang. */
    params: params.optional(),
    max_tokens: positiveInt.default(16),
    /** The whole call (queue wait included); past it the request goes to the `fallback` side. */
    timeout_ms: positiveInt.default(2_000),
  }),
  /** A built-in prompt by name, or your own: `{ text: "..." }`. */
  prompt: z.union([z.enum(PROMPT_PRESETS), z.strictObject({ text: z.string().min(1) })]).default('general'),
  simple: side,
  complex: side,
  /** Where a request goes when the classifier times out, fails or answers nonsense. */
  fallback: z.enum(['simple', 'complex']).default('complex'),
  /**
   * What the classifier reads: `user`, the user's turns (the system text only when there are none),
   * so its `max_content_chars` go to what differs between requests, not to a system prompt they
   * share (a long agent prompt would fill them all); `all`, the system and developer text too.
   */
  reads: z.enum(['user', 'all']).default('user'),
  /** The classifier reads at most this much of what `reads` selects, from the start. */
  max_content_chars: positiveInt.default(4_000),
  /** Verdicts kept, keyed by a hash of the classified text; 0 turns the cache off. */
  cache_size: z.number().int().nonnegative().default(10_000),
});

const threshold = z.strictObject({
  kind: z.literal('threshold'),
  /** A score below it goes to `simple`, at or above it to `complex`. */
  threshold: z.number().nonnegative(),
  /** `prompt_tokens` (an estimate from the text) or a module path whose default export scores a request. */
  score: z.string().min(1).default('prompt_tokens'),
  simple: side,
  complex: side,
});

const cost = z.strictObject({
  kind: z.literal('cost'),
  /** Backends to choose from; each needs a `price` and a `quality` in `backends`. */
  candidates: z.array(side).min(1),
  /** strict: 400 when no candidate meets the request's quality; prefer: then the best quality there is. */
  mode: z.enum(['strict', 'prefer']).default('prefer'),
  /** The quality a request without `X-Orla-Quality` asks for. */
  default_quality: z.number().min(0).max(1).default(0),
  /** Completion length assumed when the request sets no max_tokens, to compare prices. */
  output_tokens: positiveInt.default(256),
});

const moduleMapper = z.strictObject({
  kind: z.literal('module'),
  /** A file whose default export is `{ name, choose(context) }`; relative to the config file. */
  path: z.string().min(1),
});

export const mapperSchema = z.discriminatedUnion('kind', [onebit, threshold, cost, moduleMapper]);

/** Spread into the top-level config object. */
export const mapperConfigKeys = {
  mappers: z.record(z.string(), mapperSchema).default({}),
  /** At start, ask every backend's /v1/models whether it serves the models the config names. */
  verify_models: z.boolean().default(false),
};

/** Spread into the stage object (whose `backend` becomes optional: a stage has a backend or a mapper). */
export const stageMapperKeys = {
  mapper: z.string().optional(),
};

/** Spread into the backend object. */
export const backendMapperKeys = {
  /** Declared quality, 0–1, for the `cost` mapper. */
  quality: z.number().min(0).max(1).optional(),
};

export type MapperConfig = z.infer<typeof mapperSchema>;
export type OneBitConfig = z.infer<typeof onebit>;
export type ThresholdConfig = z.infer<typeof threshold>;
export type CostMapperConfig = z.infer<typeof cost>;
export type ModuleMapperConfig = z.infer<typeof moduleMapper>;
export type SideConfig = z.infer<typeof side>;

/** The parts of a config that stage mapping reads; the full Config satisfies it. */
export interface MappingConfig {
  backends: Readonly<Record<string, MappedBackend>>;
  stages: Readonly<Record<string, MappedStage>>;
  mappers?: Readonly<Record<string, MapperConfig>> | undefined;
}

export interface MappedBackend {
  engine: EngineKind;
  priority_scheduling: boolean;
  price?: { input_per_mtok: number; cached_input_per_mtok?: number | undefined; output_per_mtok: number } | undefined;
  quality?: number | undefined;
}

export interface MappedStage {
  backend?: string | undefined;
  mapper?: string | undefined;
  model?: string | undefined;
  params?: Readonly<Record<string, unknown>> | undefined;
  fallbacks: readonly { backend: string; model?: string | undefined; params?: Readonly<Record<string, unknown>> | undefined }[];
  reroute_wait_ms?: number | undefined;
}

/** Every place a mapper or stage names a backend (and maybe a model), with its key path. */
export function mappedSides(config: MappingConfig): { at: string; backend: string; model: string | undefined; params: Readonly<Record<string, unknown>> | undefined }[] {
  const sides: ReturnType<typeof mappedSides> = [];
  const add = (at: string, s: { backend: string; model?: string | undefined; params?: Readonly<Record<string, unknown>> | undefined }) =>
    sides.push({ at, backend: s.backend, model: s.model, params: s.params });
  for (const [name, stage] of Object.entries(config.stages)) {
    if (stage.backend !== undefined) add(`stages.${name}`, { ...stage, backend: stage.backend });
    stage.fallbacks.forEach((f, i) => add(`stages.${name}.fallbacks[${i}]`, f));
  }
  for (const [name, m] of Object.entries(config.mappers ?? {})) {
    const at = `mappers.${name}`;
    if (m.kind === 'onebit') add(`${at}.classifier`, m.classifier);
    if (m.kind === 'onebit' || m.kind === 'threshold') {
      add(`${at}.simple`, m.simple);
      add(`${at}.complex`, m.complex);
    }
    if (m.kind === 'cost') m.candidates.forEach((c, i) => add(`${at}.candidates[${i}]`, c));
  }
  return sides;
}

/** Where a stage's requests go, in one line (`orla check`, `orla serve`). */
export function describeStage(stage: MappedStage, mappers: MappingConfig['mappers']): string {
  const where = (s: { backend: string; model?: string | undefined }) => `${s.backend} · model ${s.model ?? "(the client's)"}`;
  if (stage.mapper === undefined) return where({ backend: stage.backend ?? '?', model: stage.model });
  const m = mappers?.[stage.mapper];
  const named = `mapper ${stage.mapper}`;
  switch (m?.kind) {
    case 'onebit':
      return `${named} (onebit, asks ${where(m.classifier)}): simple → ${where(m.simple)}; complex → ${where(m.complex)}; undecided → ${m.fallback}`;
    case 'threshold':
      return `${named} (${m.score} < ${m.threshold}): → ${where(m.simple)}; else → ${where(m.complex)}`;
    case 'cost':
      return `${named} (cheapest of ${m.candidates.map(where).join(', ')}; quality ${m.mode})`;
    case 'module':
      return `${named} (module ${m.path})`;
    default:
      return `${named} (unknown)`;
  }
}

const RESPONSE_FORMATS = new Set(['text', 'json_object', 'json_schema']);

/**
 * What the schema alone cannot see about stage mapping: a stage has a backend or a mapper, every
 * mapper's backends exist, and request fields suit the engine they go to. `path: why` strings.
 */
export function crossCheckMappers(config: MappingConfig): string[] {
  const problems: string[] = [];
  const backends = config.backends;
  const known = Object.keys(backends).join(', ');
  const mappers = config.mappers ?? {};
  const unknownBackend = (at: string, name: string) => `${at}.backend: unknown backend "${name}" (known: ${known})`;

  for (const [name, stage] of Object.entries(config.stages)) {
    const at = `stages.${name}`;
    if (stage.mapper === undefined) {
      if (stage.backend === undefined) problems.push(`${at}.backend: is required (or name a mapper with \`mapper\`)`);
      continue;
    }
    if (stage.backend !== undefined) problems.push(`${at}: set either \`backend\` or \`mapper\`, not both`);
    if (stage.model !== undefined) problems.push(`${at}.model: a stage with a mapper takes its model from the mapper`);
    const mapper = mappers[stage.mapper];
    if (!mapper) {
      const names = Object.keys(mappers);
      problems.push(`${at}.mapper: unknown mapper "${stage.mapper}" (${names.length ? `known: ${names.join(', ')}` : 'no `mappers` are configured'})`);
    } else if (stage.params) {
      // The stage's params go to whichever side the mapper picks: they must suit each of them.
      for (const side of staticSides(mapper)) {
        const backend = backends[side.backend];
        if (backend) problems.push(...checkParams(`${at}.params`, stage.params, side.backend, backend));
      }
    }
  }

  for (const side of mappedSides(config)) {
    const isMapper = side.at.startsWith('mappers.');
    const backend = backends[side.backend];
    if (!backend) {
      if (isMapper) problems.push(unknownBackend(side.at, side.backend)); // stages: config/load.ts says so
      continue;
    }
    if (!side.params) continue;
    if (isMapper && 'model' in side.params) problems.push(`${side.at}.params.model: set the model with \`model\`, not in params`);
    problems.push(...checkParams(`${side.at}.params`, side.params, side.backend, backend));
  }

  for (const [name, mapper] of Object.entries(mappers)) {
    const at = `mappers.${name}`;
    if (mapper.kind === 'onebit') {
      for (const field of ['response_format', 'messages'] as const) {
        if (mapper.classifier.params && field in mapper.classifier.params) {
          problems.push(`${at}.classifier.params.${field}: OneBit sets the classifier's ${field} itself`);
        }
      }
    }
    if (mapper.kind === 'threshold' && mapper.score !== 'prompt_tokens' && !isModulePath(mapper.score)) {
      problems.push(`${at}.score: unknown score "${mapper.score}" (known: prompt_tokens, or a module path such as ./score.js)`);
    }
    if (mapper.kind === 'cost') {
      mapper.candidates.forEach((c, i) => {
        const backend = backends[c.backend];
        if (!backend) return;
        const missing = [backend.price ? undefined : 'a `price`', backend.quality === undefined ? 'a `quality`' : undefined].filter(Boolean);
        if (missing.length > 0) problems.push(`${at}.candidates[${i}].backend: backend ${c.backend} needs ${missing.join(' and ')} for the cost mapper`);
      });
    }
  }
  return problems;
}

/** The backends a built-in mapper may send a request to (a module's are known only at run time). */
function staticSides(mapper: MapperConfig): readonly SideConfig[] {
  if (mapper.kind === 'onebit' || mapper.kind === 'threshold') return [mapper.simple, mapper.complex];
  if (mapper.kind === 'cost') return mapper.candidates;
  return [];
}

/** Request fields an engine would reject, ignore or drop. `at` is the params' key path. */
export function checkParams(at: string, params: Readonly<Record<string, unknown>>, name: string, backend: MappedBackend): string[] {
  const problems: string[] = [];
  if ('priority' in params) {
    if (!engineOf(backend.engine).priority) problems.push(`${at}.priority: engine ${backend.engine} (backend ${name}) has no request priority`);
    else if (!backend.priority_scheduling) {
      problems.push(`${at}.priority: backend ${name} does not run priority scheduling (set backends.${name}.priority_scheduling: true), so the field would be dropped`);
    }
  }
  // Request fields only some engines read. Others ignore them silently, except OpenAI's API, which
  // rejects a field it does not know: either way the setting would not do what the config says.
  for (const field of Object.keys(params)) {
    if (!ENGINE_ONLY_FIELDS.has(field) || engineOf(backend.engine).fields.includes(field)) continue;
    problems.push(`${at}.${field}: engine ${backend.engine} (backend ${name}) does not take ${field} (it is for ${enginesReading(field).join(', ')})`);
  }
  if ('response_format' in params) problems.push(...checkResponseFormat(`${at}.response_format`, params.response_format));
  return problems;
}

function checkResponseFormat(at: string, format: unknown): string[] {
  const spec = format as { type?: unknown; json_schema?: { name?: unknown; schema?: unknown } } | null;
  if (!isObject(spec) || typeof spec.type !== 'string' || !RESPONSE_FORMATS.has(spec.type)) {
    return [`${at}.type: must be text, json_object or json_schema`];
  }
  if (spec.type !== 'json_schema') return [];
  if (!isObject(spec.json_schema)) return [`${at}.json_schema: is required for type json_schema ({ name, schema })`];
  const problems: string[] = [];
  if (typeof spec.json_schema.name !== 'string' || spec.json_schema.name === '') problems.push(`${at}.json_schema.name: is required`);
  if (!isObject(spec.json_schema.schema)) problems.push(`${at}.json_schema.schema: is required (a JSON schema object)`);
  return problems;
}

const isModulePath = (name: string): boolean => name.startsWith('.') || isAbsolute(name);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
