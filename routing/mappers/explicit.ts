import { notFound } from '../../errors.js';
import type { StageConfig } from '../../config/schema.js';
import type { MapRequest, StageMapper, Target } from '../types.js';

const DEFAULT_STAGE = 'default';

/** Each stage names its backend, model and params in the config; untagged or unknown stages go to `default`. */
export class ExplicitMapper implements StageMapper {
  readonly name = 'explicit';
  private readonly targets: Map<string, Target>;

  constructor(stages: Readonly<Record<string, StageConfig>>) {
    this.targets = new Map(
      Object.entries(stages).map(([stage, s]) => {
        const fallbacks = s.fallbacks.map((f) => ({ stage, backend: f.backend, model: f.model, params: f.params, fallbacks: [], rerouteWaitMs: undefined }));
        return [stage, { stage, backend: s.backend, model: s.model, params: s.params, fallbacks, rerouteWaitMs: s.reroute_wait_ms }];
      }),
    );
  }

  map({ identity }: MapRequest): Target {
    const named = identity.stage === undefined ? undefined : this.targets.get(identity.stage);
    if (named) return named;
    // A stage picked through the model name is the client's model choice: a typo must not silently
    // land on another model.
    if (identity.stageSource === 'model') {
      throw notFound(`model "orla:${identity.stage}" does not exist: no stage named "${identity.stage}"`, 'model_not_found', 'model');
    }
    const fallback = this.targets.get(DEFAULT_STAGE);
    if (fallback) return fallback;
    throw notFound(
      identity.stage === undefined
        ? 'this request has no stage and the gateway has no `default` stage'
        : `unknown stage "${identity.stage}" and the gateway has no \`default\` stage`,
      'stage_not_found',
    );
  }
}
