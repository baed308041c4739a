import type { CachePolicy } from '../types.js';
import { askedFlush } from './hints.js';

/**
 * Never release on purpose: not when a run moves to another backend, not when it ends; the engine's
 * own LRU (and Orla's pressure rule) decide. Only a flush a call asks for is carried out.
 */
export const preserve: CachePolicy = {
  name: 'preserve',
  decide: (facts) => askedFlush(facts) ?? 'preserve',
};
