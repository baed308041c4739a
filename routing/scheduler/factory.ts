import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { fairStage } from './policies/fair.js';
import { fcfsRequest, fcfsStage } from './policies/fcfs.js';
import { priorityRequest, priorityStage } from './policies/priority.js';
import { runFairRequest, runFairStage } from './policies/run-fair.js';
import { sjfRequest, sjfStage } from './policies/sjf.js';
import type { RequestScheduler, StageScheduler } from './types.js';

const STAGE_POLICIES: Record<string, () => StageScheduler> = {
  fcfs: () => fcfsStage,
  priority: () => priorityStage,
  sjf: () => sjfStage,
  fair: fairStage,
  'run-fair': () => runFairStage,
};
const REQUEST_POLICIES: Record<string, () => RequestScheduler> = {
  fcfs: () => fcfsRequest,
  priority: () => priorityRequest,
  sjf: () => sjfRequest,
  'run-fair': () => runFairRequest,
};

/** Makes a policy by name; a custom policy is a module (`./file.js`) whose default export has `name` and `pick`. */
export interface Policies {
  stage(name: string): StageScheduler;
  request(name: string): RequestScheduler;
}

/**
 * Loads every custom policy module the config names (paths relative to `baseDir`), checking every
 * name, so a mistake stops the start with the key that holds it.
 */
export async function loadPolicies(config: Config, baseDir: string): Promise<Policies> {
  const modules = new Map<string, StageScheduler | RequestScheduler>();
  const problems: string[] = [];
  const uses: [string, string, 'stage' | 'request'][] = [
    ['scheduler.stage', config.scheduler.stage, 'stage'],
    ...(config.scheduler.request ? [['scheduler.request', config.scheduler.request, 'request'] as [string, string, 'request']] : []),
    ...Object.entries(config.backends).flatMap(([n, b]) => (b.scheduler ? [[`backends.${n}.scheduler`, b.scheduler, 'stage'] as [string, string, 'stage']] : [])),
    ...Object.entries(config.stages).flatMap(([n, s]) => (s.scheduler ? [[`stages.${n}.scheduler`, s.scheduler, 'request'] as [string, string, 'request']] : [])),
  ];
  for (const [key, name, level] of uses) {
    const builtIn = level === 'stage' ? STAGE_POLICIES : REQUEST_POLICIES;
    if (name in builtIn || modules.has(name)) continue;
    if (!isModulePath(name)) {
      problems.push(`${key}: unknown ${level} scheduler "${name}" (known: ${Object.keys(builtIn).join(', ')}, or a module path such as ./my-policy.js)`);
      continue;
    }
    try {
      const loaded = (await import(pathToFileURL(isAbsolute(name) ? name : resolve(baseDir, name)).href)) as { default?: unknown };
      const policy = loaded.default as Partial<StageScheduler> | undefined;
      if (!policy || typeof policy.pick !== 'function' || typeof policy.name !== 'string') {
        problems.push(`${key}: module "${name}" must export default { name, pick(...) }`);
      } else modules.set(name, policy as StageScheduler);
    } catch (err) {
      problems.push(`${key}: cannot load module "${name}": ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    stage: (name) => (STAGE_POLICIES[name]?.() ?? modules.get(name)) as StageScheduler,
    request: (name) => (REQUEST_POLICIES[name]?.() ?? modules.get(name)) as RequestScheduler,
  };
}

const isModulePath = (name: string) => name.startsWith('.') || isAbsolute(name);
