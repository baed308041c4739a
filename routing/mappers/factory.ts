import type { MapperConfig, MappingConfig } from '../../config/mappers.js';
import { stagesUnder, type Variants } from '../../config/variants.js';
import { ConfigError } from '../../config/load.js';
import type { AdmissionBackend } from '../admission-backend.js';
import type { StageMapper } from '../types.js';
import { CostMapper } from './cost.js';
import { isModulePath, loadMapperModule, loadScoreModule, ModuleMapper } from './module.js';
import { OneBitMapper } from './onebit.js';
import { StageMapping } from './stages.js';
import { promptTokensScore, ThresholdMapper } from './threshold.js';
import type { DynamicMapper, MapperObserver } from './types.js';
import { VariantMapping } from './variants.js';

export interface MapperOptions {
  /** Where module paths in the config are relative to (the config file's folder); default: the working directory. */
  baseDir?: string;
  observer?: MapperObserver;
}

/**
 * The gateway's one StageMapper: explicit stages as configured, `mapper: <name>` stages through that
 * mapper (one instance per name, shared by the stages that use it, so they share its verdict cache).
 * Named variants (`mappings:`) are the same, with their stages remapped; X-Orla-Mapping picks one.
 * Loads custom modules; one that cannot be used stops the start with the key that names it.
 */
export async function createMapper(config: MappingConfig & { mappings?: Variants | undefined }, backends: ReadonlyMap<string, AdmissionBackend>, options: MapperOptions = {}): Promise<StageMapper> {
  const baseDir = options.baseDir ?? process.cwd();
  const observer = options.observer ?? {};
  const mappers = new Map<string, DynamicMapper>();
  const problems: string[] = [];
  for (const [name, stage] of Object.entries(config.stages)) {
    if (stage.mapper !== undefined && !config.mappers?.[stage.mapper]) problems.push(`stages.${name}.mapper: unknown mapper "${stage.mapper}"`);
  }
  for (const [name, mapper] of Object.entries(config.mappers ?? {})) {
    try {
      mappers.set(name, await build(name, mapper));
    } catch (err) {
      problems.push(`mappers.${name}.${mapper.kind === 'module' ? 'path' : 'score'}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // Variants share the mapper instances, and so their verdict caches.
  const variants = Object.entries(config.mappings ?? {}).map(
    ([name, remaps]) => [name, new StageMapping({ ...config, stages: stagesUnder(config.stages, remaps) }, backends, mappers)] as const,
  );
  return new VariantMapping(new StageMapping(config, backends, mappers), new Map(variants));

  async function build(name: string, mapper: MapperConfig): Promise<DynamicMapper> {
    switch (mapper.kind) {
      case 'onebit':
        return new OneBitMapper(name, mapper, { backends, observer });
      case 'threshold': {
        const score = isModulePath(mapper.score) ? await loadScoreModule(mapper.score, baseDir) : promptTokensScore;
        return new ThresholdMapper(name, mapper, score, observer);
      }
      case 'cost':
        return new CostMapper(name, mapper, observer);
      case 'module':
        return new ModuleMapper(name, await loadMapperModule(mapper.path, baseDir), observer);
    }
  }
}
