import type { CachePolicy } from '../types.js';

/**
 * Nothing stays: every call's cache is released when it completes (the baseline to beat), unless
 * the call says `preserve`. Only a flush hint is put off over a tool turn; the policy never is.
 */
export const flushPerRequest: CachePolicy = {
  name: 'flush-per-request',
  decide: ({ event, hint, toolCalls }) => {
    if (event !== 'call') return 'release';
    if (hint === 'flush' && toolCalls) return 'defer';
    return hint === 'preserve' ? 'preserve' : 'release';
  },
};
