import { bestIndex, type PickContext, type RequestScheduler, type StageScheduler, type Waiting } from '../types.js';

/**
 * Shortest job first, by estimated prompt tokens. A job's size shrinks as it waits (halved after
 * `agingMs`, a third after twice that…), so a long prompt is served eventually.
 */
export const sjfRequest: RequestScheduler = {
  name: 'sjf',
  pick: (waiting, context) => bestIndex(waiting, (a, b) => smaller(a, b, context)),
};

export const sjfStage: StageScheduler = {
  name: 'sjf',
  withinStage: sjfRequest,
  pick: (stages, context) => {
    const shortest = stages.map((s) => s.waiting[sjfRequest.pick(s.waiting, context)]!);
    return bestIndex(shortest, (a, b) => smaller(a, b, context));
  },
};

const agedSize = (w: Waiting, context: PickContext) => w.promptTokens / (1 + (context.now - w.enqueuedAt) / context.agingMs);

function smaller(a: Waiting, b: Waiting, context: PickContext): boolean {
  const sa = agedSize(a, context);
  const sb = agedSize(b, context);
  return sa < sb || (sa === sb && a.seq < b.seq);
}
