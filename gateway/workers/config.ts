import { ConfigError, parseConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';

// The Worker's config: the same YAML or JSON as `orla serve --config`, in the `ORLA_CONFIG` var, with
// `${VAR}` taken from the Worker's vars and secrets. Checked as on Node, plus what a Worker cannot do.

const SOURCE = 'ORLA_CONFIG';

/** The parsed config of an env (cached per env and text: every request of an isolate reads it). */
export function edgeConfig(env: Record<string, unknown>): Config {
  const text = env.ORLA_CONFIG;
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ConfigError([`${SOURCE}: not set (put the gateway's YAML or JSON config in this var, as for orla serve --config)`], SOURCE);
  }
  const known = cache.get(env);
  if (known?.text === text) return known.config;
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') vars[name] = value;
  const config = parseConfig(text, { env: vars, source: SOURCE });
  const problems = edgeProblems(config);
  if (problems.length > 0) throw new ConfigError(problems, SOURCE);
  cache.set(env, { text, config });
  return config;
}

const cache = new WeakMap<object, { text: string; config: Config }>();

/** What a valid config may ask for that a Worker cannot do: run an engine in-process, load a module from a file. */
function edgeProblems(config: Config): string[] {
  const problems: string[] = [];
  const modulePath = (at: string, name: string | undefined) => {
    if (name !== undefined && (name.startsWith('.') || name.startsWith('/'))) {
      problems.push(`${at}: a module path cannot be loaded on Cloudflare Workers (no file system); use a built-in name`);
    }
  };
  for (const [name, backend] of Object.entries(config.backends)) {
    if (!backend.urls) problems.push(`backends.${name}.urls: required on Cloudflare Workers (no in-process simulator there: run orla sim elsewhere and name its URL)`);
    modulePath(`backends.${name}.scheduler`, backend.scheduler);
  }
  modulePath('scheduler.stage', config.scheduler.stage);
  modulePath('scheduler.request', config.scheduler.request);
  for (const [name, stage] of Object.entries(config.stages)) modulePath(`stages.${name}.scheduler`, stage.scheduler);
  for (const [name, mapper] of Object.entries(config.mappers ?? {})) {
    if (mapper.kind === 'module') problems.push(`mappers.${name}.kind: module mappers cannot be loaded on Cloudflare Workers (no file system); use onebit, threshold or cost`);
    if (mapper.kind === 'threshold') modulePath(`mappers.${name}.score`, mapper.score === 'prompt_tokens' ? undefined : mapper.score);
  }
  return problems;
}
