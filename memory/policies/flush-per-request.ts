import type { CachePolicy } from '../types.js';

/** Nothing stays: every call's cache is released when it completes (the baseline to beat). */
export const flushPerRequest: CachePolicy = { name: 'flush-per-request', afterCall: () => 'release' };
