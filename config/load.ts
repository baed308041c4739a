import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { interpolateEnv, typedScalar, type EnvLeaf, type EnvProblem } from './env.js';
import { crossCheckMappers } from './mappers.js';
import { configSchema, type Config } from './schema.js';
import { engineOf } from '../upstream/engines/index.js';
import { stagesUnder } from './variants.js';

/** Every mistake in a config file, each naming the key path and why; the gateway does not start. */
export class ConfigError extends Error {
  constructor(readonly problems: string[], source = 'config') {
    super(`${source} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Profile names an in-process simulator backend may use. */
  simulatorProfiles?: readonly string[];
  source?: string;
}

export async function loadConfigFile(file: string, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], file);
  }
  return parseConfig(text, { ...options, source: options.source ?? file });
}

/** YAML or JSON text (JSON is YAML) → a validated config. */
export function parseConfig(text: string, options: LoadOptions = {}): Config {
  const source = options.source ?? 'config';
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    // A bare `${VAR}` inside [ ] or { } is not valid YAML: flow syntax claims its braces.
    const hint = text.includes('${') ? ' (a ${VAR} inside [ ] or { } must be quoted: "${VAR}")' : '';
    throw new ConfigError([`not valid YAML or JSON: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}${hint}`], source);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(['the file must hold a mapping with at least `backends`'], source);
  }
  return validateConfig(raw, options);
}

export function validateConfig(raw: unknown, options: LoadOptions = {}): Config {
  const source = options.source ?? 'config';
  const envProblems: EnvProblem[] = [];
  const leaves: EnvLeaf[] = [];
  const interpolated = interpolateEnv(raw, options.env ?? process.env, envProblems, [], leaves);
  const problems = envProblems.map((p) => `${formatPath(p.path)}: ${p.message}`);
  const parsed = parseTyped(interpolated, leaves);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map(formatIssue));
    throw new ConfigError(problems, source);
  }
  const config = parsed.data;
  // An empty key (an unset ${VAR:-}) never authenticates anyone.
  config.server.api_keys = config.server.api_keys.filter((key) => key.length > 0);
  config.server.admin_keys = config.server.admin_keys.filter((key) => key.length > 0);
  for (const t of Object.values(config.tenants)) t.keys = t.keys.filter((key) => key.length > 0);
  problems.push(...crossCheck(config, options));
  if (problems.length > 0) throw new ConfigError(problems, source);
  return config;
}

/**
 * Validates with each value that was exactly one `${VAR}` typed as YAML would have read its text
 * (`port: ${PORT}` → 9000), then gives back the string where the schema wanted another type (an
 * api key `12345` stays "12345"). Checking against the schema's own verdict, rather than walking
 * its shape, keeps this right for every field, including those other modules add.
 */
function parseTyped(data: unknown, leaves: EnvLeaf[]) {
  const typed = leaves.flatMap((leaf) => {
    const value = typedScalar(leaf.text);
    return value === undefined ? [] : [{ ...leaf, value }];
  });
  for (const leaf of typed) setAt(data, leaf.path, leaf.value);
  const parsed = configSchema.safeParse(data);
  if (parsed.success) return parsed;
  const wrongType = new Set(wrongTypePaths(parsed.error.issues, []));
  const back = typed.filter((leaf) => wrongType.has(formatPath(leaf.path)));
  if (back.length === 0) return parsed;
  for (const leaf of back) setAt(data, leaf.path, leaf.text);
  return configSchema.safeParse(data);
}

/** Paths of type mismatches, including those inside a union's alternatives (their paths are relative). */
function wrongTypePaths(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): string[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_type') return [formatPath(path)];
    if (issue.code === 'invalid_union') return issue.errors.flatMap((alternative) => wrongTypePaths(alternative, path));
    return [];
  });
}

function setAt(data: unknown, path: readonly (string | number)[], value: unknown): void {
  const parent = path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], data);
  (parent as Record<string | number, unknown>)[path[path.length - 1]!] = value;
}

/** What the schema alone cannot see: references between sections and engine-specific rules. */
function crossCheck(config: Config, options: LoadOptions): string[] {
  const problems: string[] = [];
  const backendNames = Object.keys(config.backends);
  if (backendNames.length === 0) problems.push('backends: at least one backend is needed');
  for (const [name, backend] of Object.entries(config.backends)) {
    const at = `backends.${name}`;
    if (backend.engine !== 'simulator') {
      if (!backend.urls) problems.push(`${at}.urls: required for engine ${backend.engine}`);
      if (backend.profile !== undefined) problems.push(`${at}.profile: only an in-process simulator has a profile`);
      if (backend.speed !== undefined) problems.push(`${at}.speed: only an in-process simulator has a speed`);
    } else if (!backend.urls) {
      const profiles = options.simulatorProfiles;
      if (backend.profile && profiles && !profiles.includes(backend.profile)) {
        problems.push(`${at}.profile: unknown profile "${backend.profile}" (known: ${profiles.join(', ')})`);
      }
    } else if (backend.profile !== undefined || backend.speed !== undefined) {
      problems.push(`${at}: profile and speed apply to an in-process simulator (no urls); set them on \`orla sim\``);
    }
  }
  if (config.state.store === 'redis') {
    for (const [name, backend] of Object.entries(config.backends)) {
      if (!backend.urls) problems.push(`backends.${name}: with state.store redis, an in-process simulator is each gateway's own; give it urls (\`orla sim\`)`);
    }
  }
  if (config.memory.pressure.low >= config.memory.pressure.high) {
    problems.push('memory.pressure.low: must be below memory.pressure.high');
  }
  for (const [name, backend] of Object.entries(config.backends)) {
    if (backend.slots !== undefined && backend.engine !== 'llamacpp') problems.push(`backends.${name}.slots: only llama.cpp has slots`);
    if (backend.admin_api_key !== undefined && backend.engine !== 'sglang') problems.push(`backends.${name}.admin_api_key: only SGLang has an admin key`);
    const priority = engineOf(backend.engine).priority;
    if (backend.priority_order !== undefined && backend.priority_order !== priority?.order && (!priority || priority.fixed)) {
      problems.push(`backends.${name}.priority_order: engine ${backend.engine} ${priority ? `always serves ${priority.order.replace('_first', '')} priority values first` : 'has no request priority'}`);
    }
  }
  for (const name of Object.keys(config.stages)) {
    if (name.startsWith('orla:')) problems.push(`stages.${name}: a stage name cannot start with "orla:"`);
  }
  problems.push(...checkKeys(config));
  problems.push(...checkStages(config));
  problems.push(...crossCheckMappers(config));
  problems.push(...checkVariants(config));
  return problems;
}

/** Each key names one principal: a key in two places would make its tenant a guess. Never quotes a key. */
function checkKeys(config: Config): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  const place = (key: string, at: string) => {
    const first = seen.get(key);
    if (first !== undefined) problems.push(`${at}: the same key as ${first} (each key belongs to one tenant)`);
    else seen.set(key, at);
  };
  config.server.api_keys.forEach((key, i) => place(key, `server.api_keys[${i}]`));
  config.server.admin_keys.forEach((key, i) => place(key, `server.admin_keys[${i}]`));
  for (const [name, t] of Object.entries(config.tenants)) t.keys.forEach((key, i) => place(key, `tenants.${name}.keys[${i}]`));
  return problems;
}

/** Stages' references to backends, and their params; `stages.<name>…: why` strings. */
function checkStages(config: Pick<Config, 'backends' | 'stages'>): string[] {
  const problems: string[] = [];
  const known = Object.keys(config.backends).join(', ');
  for (const [name, stage] of Object.entries(config.stages)) {
    if (stage.backend !== undefined && !(stage.backend in config.backends)) {
      problems.push(`stages.${name}.backend: unknown backend "${stage.backend}" (known: ${known})`);
    }
    if (stage.params && 'model' in stage.params) {
      problems.push(`stages.${name}.params.model: set the stage's model with \`model\`, not in params`);
    }
    stage.fallbacks.forEach((fallback, i) => {
      if (!(fallback.backend in config.backends)) {
        problems.push(`stages.${name}.fallbacks[${i}].backend: unknown backend "${fallback.backend}" (known: ${known})`);
      }
    });
  }
  return problems;
}

/** Each variant's stages pass the same checks as `stages:`, reported under `mappings.<variant>`. */
function checkVariants(config: Config): string[] {
  const problems: string[] = [];
  const stageNames = Object.keys(config.stages);
  for (const [variant, remaps] of Object.entries(config.mappings)) {
    const at = `mappings.${variant}`;
    const named = Object.keys(remaps).filter((name) => {
      if (name in config.stages) return true;
      problems.push(`${at}.${name}: unknown stage "${name}" (known: ${stageNames.join(', ')})`);
      return false;
    });
    const remapped = stagesUnder(config.stages, remaps);
    const stages = Object.fromEntries(named.map((name) => [name, remapped[name]!]));
    const stageProblems = [...checkStages({ ...config, stages }), ...crossCheckMappers({ ...config, stages }).filter((p) => p.startsWith('stages.'))];
    problems.push(...stageProblems.map((p) => `${at}.${p.slice('stages.'.length)}`));
  }
  return problems;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const at = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${at ? `${at}.` : ''}${key}: unknown key`).join('; ');
  }
  // A record's bad key: its own rule says why (e.g. a mapping name).
  const why = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  const message = why.replace(/^Invalid input: /, '');
  if (/received undefined$/.test(message)) return `${at}: is required`;
  return `${at || '(top level)'}: ${message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}
