import { listedAs } from './fields.js';
import type { CacheAdapter, Engine } from './types.js';

/** Hosted APIs cache prompts by themselves and offer no control: Orla reports that, and does nothing. */
export const openaiCache: CacheAdapter = {
  releaseRun: async () => ({ action: 'none', result: 'unsupported', detail: 'hosted API: provider prompt caching only' }),
};

/** OpenAI and other hosted APIs: OpenAI's fields only (an unknown one is a 400), no priority. */
export const openai: Engine = {
  kind: 'openai',
  probePath: '/v1/models',
  fields: [],
  serves: listedAs,
  cache: () => openaiCache,
};
