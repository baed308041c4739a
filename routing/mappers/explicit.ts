import { notFound } from '../../errors.js';
import type { MappedStage } from '../../config/mappers.js';
import type { Identity } from '../../identity.js';
import type { MapRequest, StageMapper, Target } from '../types.js';

const DEFAULT_STAGE = 'default';

/**
 * Each stage names its backend, model and params in the config; untagged or unknown stages go to
 * `default`. Stages with a `mapper` are known here (a request may name them) but mapped by
 * createMapper's dynamic mappers.
 */
export class ExplicitMapper implements StageMapper {
  readonly name = 'explicit';
  private readonly targets: Map<string, Target>;
  private readonly fallbacks: Map<string, Target[]>;
  private readonly stages: ReadonlySet<string>;

  constructor(stages: Readonly<Record<string, MappedStage>>) {
    this.stages = new Set(Object.keys(stages));
    this.fallbacks = new Map(
      Object.entries(stages).map(([stage, s]) => [
        stage,
        s.fallbacks.map((f) => ({ stage, backend: f.backend, model: f.model, params: f.params, fallbacks: [], rerouteWaitMs: undefined })),
      ]),
    );
    this.targets = new Map();
    for (const [stage, s] of Object.entries(stages)) {
      if (s.backend === undefined) continue;
      this.targets.set(stage, { stage, backend: s.backend, model: s.model, params: s.params, fallbacks: this.fallbacksOf(stage), rerouteWaitMs: s.reroute_wait_ms });
    }
  }

  map({ identity }: MapRequest): Target {
    const stage = this.stageFor(identity);
    const target = this.targets.get(stage);
    if (!target) throw new Error(`stage ${stage} has a mapper: map it with createMapper (routing/mappers/factory.ts)`);
    return target;
  }

  /** The configured stage that serves a request: its own, else `default`. */
  stageFor(identity: Identity): string {
    if (identity.stage !== undefined && this.stages.has(identity.stage)) return identity.stage;
    // A stage picked through the model name is the client's model choice: a typo must not silently
    // land on another model.
    if (identity.stageSource === 'model') {
      throw notFound(`model "orla:${identity.stage}" does not exist: no stage named "${identity.stage}"`, 'model_not_found', 'model');
    }
    if (this.stages.has(DEFAULT_STAGE)) return DEFAULT_STAGE;
    throw notFound(
      identity.stage === undefined
        ? 'this request has no stage and the gateway has no `default` stage'
        : `unknown stage "${identity.stage}" and the gateway has no \`default\` stage`,
      'stage_not_found',
    );
  }

  fallbacksOf(stage: string): Target[] {
    return this.fallbacks.get(stage) ?? [];
  }
}
