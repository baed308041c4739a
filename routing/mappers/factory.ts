import type { MapperConfig, MappingConfig, MappedStage } from '../../config/mappers.js';
import { ConfigError } from '../../config/load.js';
import type { Backend } from '../backends.js';
import { fcfsRequest } from '../scheduler/policies/fcfs.js';
import type { RequestScheduler } from '../scheduler/types.js';
import type { MapRequest, StageMapper, Target } from '../types.js';
import { CostMapper } from './cost.js';
import { ExplicitMapper } from './explicit.js';
import { isModulePath, loadMapperModule, loadScoreModule, ModuleMapper } from './module.js';
import { OneBitMapper } from './onebit.js';
import { promptTokensScore, ThresholdMapper } from './threshold.js';
import type { BackendState, DynamicMapper, MapContext, MapperObserver } from './types.js';

export interface MapperOptions {
  /** Where module paths in the config are relative to (the config file's folder); default: the working directory. */
  baseDir?: string;
  /** The level-2 policy of each classifier's queue; default fcfs. */
  requestScheduler?: RequestScheduler;
  observer?: MapperObserver;
}

/**
 * The gateway's one StageMapper: explicit stages as configured, and stages with `mapper: <name>`
 * through that mapper (one instance per name, shared by the stages that use it). Loads custom
 * modules; a module that cannot be used stops the start with the key that names it.
 */
export async function createMapper(config: MappingConfig, backends: ReadonlyMap<string, Backend>, options: MapperOptions = {}): Promise<StageMapper> {
  const baseDir = options.baseDir ?? process.cwd();
  const observer = options.observer ?? {};
  const mappers = new Map<string, DynamicMapper>();
  const problems: string[] = [];
  for (const [name, mapper] of Object.entries(config.mappers ?? {})) {
    try {
      mappers.set(name, await build(name, mapper));
    } catch (err) {
      problems.push(`mappers.${name}.${mapper.kind === 'module' ? 'path' : 'score'}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return new StageMapping(config, backends, mappers);

  async function build(name: string, mapper: MapperConfig): Promise<DynamicMapper> {
    switch (mapper.kind) {
      case 'onebit':
        return new OneBitMapper(name, mapper, { backends, requestScheduler: options.requestScheduler ?? fcfsRequest, observer });
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

class StageMapping implements StageMapper {
  readonly name = 'stages';
  private readonly explicit: ExplicitMapper;
  private readonly dynamic = new Map<string, { name: string; mapper: DynamicMapper; stage: MappedStage }>();

  constructor(
    private readonly config: MappingConfig,
    private readonly backends: ReadonlyMap<string, Backend>,
    mappers: ReadonlyMap<string, DynamicMapper>,
  ) {
    this.explicit = new ExplicitMapper(config.stages);
    for (const [stage, s] of Object.entries(config.stages)) {
      if (s.mapper !== undefined) this.dynamic.set(stage, { name: s.mapper, mapper: mappers.get(s.mapper)!, stage: s });
    }
  }

  map(request: MapRequest): Target | Promise<Target> {
    const stage = this.explicit.stageFor(request.identity);
    const route = this.dynamic.get(stage);
    return route ? this.mapDynamic(stage, route, request) : this.explicit.map(request);
  }

  private async mapDynamic(stage: string, route: { name: string; mapper: DynamicMapper; stage: MappedStage }, request: MapRequest): Promise<Target> {
    const choice = await route.mapper.choose(this.context(stage, request));
    if (!this.backends.has(choice.backend)) throw new Error(`mapper ${route.name} chose backend "${choice.backend}", which does not exist`);
    const params = route.stage.params || choice.params ? { ...route.stage.params, ...choice.params } : undefined;
    return {
      stage,
      backend: choice.backend,
      model: choice.model,
      params,
      fallbacks: this.explicit.fallbacksOf(stage),
      rerouteWaitMs: route.stage.reroute_wait_ms,
      mapped: { mapper: route.name, verdict: choice.verdict, costUsd: choice.costUsd ?? 0 },
    };
  }

  private context(stage: string, request: MapRequest): MapContext {
    let states: Map<string, BackendState> | undefined;
    const read = () => (states ??= new Map([...this.backends].map(([name, b]) => [name, this.stateOf(b)])));
    return {
      stage,
      request,
      get backends() {
        return read();
      },
    };
  }

  private stateOf(backend: Backend): BackendState {
    return {
      name: backend.name,
      engine: backend.config.engine,
      queued: backend.queued,
      inFlight: backend.replicas.reduce((sum, r) => sum + r.inFlight, 0),
      circuitOpen: backend.circuitOpen(),
      estimatedWaitMs: backend.estimatedWaitMs(),
      price: backend.config.price,
      quality: this.config.backends[backend.name]?.quality,
    };
  }
}
