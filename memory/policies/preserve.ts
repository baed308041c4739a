import type { CachePolicy } from '../types.js';

/** Never release on purpose: the engine's own LRU (and Orla's pressure rule) decides. */
export const preserve: CachePolicy = { name: 'preserve', afterCall: () => 'preserve' };
