import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Score } from './threshold.js';
import type { Choice, DynamicMapper, MapContext, MapperObserver } from './types.js';

// Custom mappers and scores: a module named in the config, relative to the config file's folder.

/** `kind: module`: the module's default export `{ name, choose(context) }` decides. */
export class ModuleMapper implements DynamicMapper {
  constructor(readonly name: string, private readonly custom: DynamicMapper, private readonly observer: MapperObserver) {}

  async choose(context: MapContext): Promise<Choice> {
    const choice = await this.custom.choose(context);
    if (choice === null || typeof choice !== 'object' || typeof choice.backend !== 'string') {
      throw new Error(`mapper ${this.name} (${this.custom.name}): choose() must return { backend, model?, params? }`);
    }
    this.observer.mapped?.(this.name, choice.verdict, false);
    return choice;
  }
}

/** Loads a mapper module; throws an Error whose message says what is wrong with it. */
export async function loadMapperModule(path: string, baseDir: string): Promise<DynamicMapper> {
  const exported = await importDefault(path, baseDir);
  const mapper = exported as Partial<DynamicMapper> | undefined;
  if (!mapper || typeof mapper.choose !== 'function' || typeof mapper.name !== 'string') {
    throw new Error(`module "${path}" must export default { name, choose(context) }`);
  }
  return mapper as DynamicMapper;
}

/** Loads a score module: its default export is a function from the request to a number. */
export async function loadScoreModule(path: string, baseDir: string): Promise<Score> {
  const exported = await importDefault(path, baseDir);
  if (typeof exported !== 'function') throw new Error(`module "${path}" must export default a function (request) => number`);
  return exported as Score;
}

export const isModulePath = (name: string): boolean => name.startsWith('.') || isAbsolute(name);

async function importDefault(path: string, baseDir: string): Promise<unknown> {
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(isAbsolute(path) ? path : resolve(baseDir, path)).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`cannot load module "${path}": ${(err as Error).message.split('\n')[0]}`);
  }
  return loaded.default;
}
