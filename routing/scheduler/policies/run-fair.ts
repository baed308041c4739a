import { bestIndex, type PickContext, type StageScheduler, type Waiting } from '../types.js';

/**
 * Least attained service first, per workflow run (Autellix's PLAS): the stage holding the request
 * whose run has been served the fewest tokens so far, so one long run cannot starve many short
 * ones. Ties go to the oldest. A request that has waited `agingMs` goes ahead of all that have not
 * (oldest first): otherwise a run already served could wait forever behind a stream of new runs.
 */
export const runFairStage: StageScheduler = {
  name: 'run-fair',
  pick: (stages, context) => {
    const first = stages.map((s) => s.waiting[bestIndex(s.waiting, (a, b) => goesFirst(a, b, context))]!);
    return bestIndex(first, (a, b) => goesFirst(a, b, context));
  },
};

function goesFirst(a: Waiting, b: Waiting, context: PickContext): boolean {
  const agedA = context.now - a.enqueuedAt >= context.agingMs;
  const agedB = context.now - b.enqueuedAt >= context.agingMs;
  if (agedA !== agedB) return agedA;
  if (agedA) return a.seq < b.seq;
  const sa = context.attainedService(a.run);
  const sb = context.attainedService(b.run);
  return sa < sb || (sa === sb && a.seq < b.seq);
}
