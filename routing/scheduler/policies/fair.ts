import type { StageScheduler } from '../types.js';
import { SmoothWeighted } from '../weighted.js';

/** Weighted round robin across the stages that are waiting: a stage of weight 2 is served twice as often as one of weight 1, interleaved. */
export function fairStage(): StageScheduler {
  const wrr = new SmoothWeighted();
  return {
    name: 'fair',
    pick: (stages) => wrr.pick(stages.map((s) => ({ key: s.stage, weight: s.weight }))),
  };
}
