import type { CachePolicy } from '../types.js';
import { askedFlush } from './hints.js';

/** Keep a run's prefix warm between its stages; release it when the run moves to another backend or ends (the default). */
export const flushPerWorkflow: CachePolicy = {
  name: 'flush-per-workflow',
  decide: (facts) => (facts.event === 'call' ? (askedFlush(facts) ?? 'preserve') : 'release'),
};
