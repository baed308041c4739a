import { bestIndex, effectivePriority, type PickContext, type RequestScheduler, type StageScheduler, type Waiting } from '../types.js';

/** Highest effective priority (X-Orla-Priority grown by waiting); ties go to the oldest. */
export const priorityRequest: RequestScheduler = {
  name: 'priority',
  pick: (waiting, context) => bestIndex(waiting, (a, b) => higher(a, b, context)),
};

/** The stage holding the highest-priority waiting request. */
export const priorityStage: StageScheduler = {
  name: 'priority',
  withinStage: priorityRequest,
  pick: (stages, context) => {
    const tops = stages.map((s) => s.waiting[priorityRequest.pick(s.waiting, context)]!);
    return bestIndex(tops, (a, b) => higher(a, b, context));
  },
};

function higher(a: Waiting, b: Waiting, context: PickContext): boolean {
  const pa = effectivePriority(a, context);
  const pb = effectivePriority(b, context);
  return pa > pb || (pa === pb && a.seq < b.seq);
}
