import { bestIndex, type RequestScheduler, type StageScheduler } from '../types.js';

/** First come, first served: the oldest request, and the stage whose head is oldest. */
export const fcfsRequest: RequestScheduler = { name: 'fcfs', pick: () => 0 };

export const fcfsStage: StageScheduler = {
  name: 'fcfs',
  pick: (stages) => bestIndex(stages, (a, b) => a.waiting[0]!.seq < b.waiting[0]!.seq),
};
