import { bestIndex, type PickContext, type StageScheduler, type Waiting } from '../types.js';

/**
 * Least attained service first, per workflow run (Autellix's PLAS): the stage holding the request
 * whose run has been served the fewest tokens so far, so one long run cannot starve many short
 * ones. Ties go to the oldest.
 */
export const runFairStage: StageScheduler = {
  name: 'run-fair',
  pick: (stages, context) => {
    const leastServed = stages.map((s) => s.waiting[bestIndex(s.waiting, (a, b) => lessServed(a, b, context))]!);
    return bestIndex(leastServed, (a, b) => lessServed(a, b, context));
  },
};

function lessServed(a: Waiting, b: Waiting, context: PickContext): boolean {
  const sa = context.attainedService(a.run);
  const sb = context.attainedService(b.run);
  return sa < sb || (sa === sb && a.seq < b.seq);
}
