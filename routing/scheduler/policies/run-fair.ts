import { bestIndex, type PickContext, type RequestScheduler, type StageScheduler, type Waiting } from '../types.js';

/**
 * Least attained service first, per workflow run (Autellix's PLAS): the request whose run has been
 * served the fewest tokens so far, so one long run cannot starve many short ones, also when they
 * share a stage (runs of one workflow share their stage names). Ties go to the oldest. A request
 * that has waited `agingMs` goes ahead of all that have not (oldest first): otherwise a run already
 * served could wait forever behind a stream of new runs.
 */
export const runFairRequest: RequestScheduler = {
  name: 'run-fair',
  pick: (waiting, context) => bestIndex(waiting, (a, b) => goesFirst(a, b, context)),
};

/** The stage holding the request that goes first by the same rule. */
export const runFairStage: StageScheduler = {
  name: 'run-fair',
  withinStage: runFairRequest,
  pick: (stages, context) => {
    const first = stages.map((s) => s.waiting[runFairRequest.pick(s.waiting, context)]!);
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
