import type { EngineAdapter } from '../types.js';

/** Hosted APIs cache prompts by themselves and offer no control: Orla reports that, and does nothing. */
export const openaiAdapter: EngineAdapter = {
  engine: 'openai',
  releaseRun: async () => ({ action: 'none', result: 'unsupported', detail: 'hosted API: provider prompt caching only' }),
};
