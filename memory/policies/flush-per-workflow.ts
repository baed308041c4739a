import type { CachePolicy } from '../types.js';

/** Keep a run's prefix warm between its stages; release it when the run ends (the default). */
export const flushPerWorkflow: CachePolicy = {
  name: 'flush-per-workflow',
  afterCall: ({ workflowDone }) => (workflowDone ? 'release' : 'preserve'),
};
