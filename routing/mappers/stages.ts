import type { MappedStage, MappingConfig } from '../../config/mappers.js';
import type { AdmissionBackend } from '../admission-backend.js';
import type { MapRequest, StageMapper, Target } from '../types.js';
import { ExplicitMapper } from './explicit.js';
import type { BackendState, DynamicMapper, MapContext } from './types.js';

interface DynamicStage {
  /** The mapper's name in the config. */
  name: string;
  mapper: DynamicMapper;
  stage: MappedStage;
}

/**
 * Every configured stage: explicit ones as the explicit mapper maps them, `mapper:` ones through
 * their dynamic mapper, which picks the backend, model and params; the stage keeps its queue name,
 * fallbacks and reroute wait, and its params apply under the side's.
 */
export class StageMapping implements StageMapper {
  readonly name = 'stages';
  private readonly explicit: ExplicitMapper;
  private readonly dynamic = new Map<string, DynamicStage>();

  constructor(
    private readonly config: MappingConfig,
    private readonly backends: ReadonlyMap<string, AdmissionBackend>,
    mappers: ReadonlyMap<string, DynamicMapper>,
  ) {
    this.explicit = new ExplicitMapper(config.stages);
    for (const [stage, s] of Object.entries(config.stages)) {
      const mapper = s.mapper === undefined ? undefined : mappers.get(s.mapper);
      if (mapper) this.dynamic.set(stage, { name: s.mapper!, mapper, stage: s });
    }
  }

  map(request: MapRequest): Target | Promise<Target> {
    const stage = this.explicit.stageFor(request.identity);
    const dynamic = this.dynamic.get(stage);
    return dynamic ? this.mapDynamic(stage, dynamic, request) : this.explicit.map(request);
  }

  private async mapDynamic(stage: string, { name, mapper, stage: settings }: DynamicStage, request: MapRequest): Promise<Target> {
    const choice = await mapper.choose(this.context(stage, request));
    if (!this.backends.has(choice.backend)) throw new Error(`mapper ${name} chose backend "${choice.backend}", which does not exist`);
    return {
      stage,
      backend: choice.backend,
      model: choice.model,
      params: settings.params || choice.params ? { ...settings.params, ...choice.params } : undefined,
      fallbacks: this.explicit.fallbacksOf(stage),
      rerouteWaitMs: settings.reroute_wait_ms,
      mapped: { mapper: name, verdict: choice.verdict, costUsd: choice.costUsd ?? 0 },
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

  private stateOf(backend: AdmissionBackend): BackendState {
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
