import type { CacheDecision, CacheFacts } from '../types.js';

/**
 * A flush asked for (the call's hint, or one put off earlier on its stage) frees the cache, but not
 * while the stage's agent loop waits on a tool: its next turn extends this very context, so the
 * flush waits for the turn that ends without tool calls.
 */
export function askedFlush(facts: CacheFacts): CacheDecision | undefined {
  if (facts.event !== 'call' || (facts.hint !== 'flush' && !facts.deferred)) return undefined;
  return facts.toolCalls ? 'defer' : 'release';
}
