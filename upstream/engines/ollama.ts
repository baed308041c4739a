import type { ActionResult, CacheAdapter, Engine, EngineCall } from './types.js';

/**
 * Ollama keeps a whole model loaded, not a run's prefix: the only release is unloading the model
 * (`POST /api/generate {"model", "keep_alive": 0}`), done only when no other run uses it.
 */
export function ollamaCache(call: EngineCall): CacheAdapter {
  return {
    async releaseRun(_run, replica, context): Promise<ActionResult> {
      const model = context.model;
      if (!model) return { action: 'unload', result: 'skipped', detail: 'model unknown' };
      if (context.onlyTagged) return { action: 'unload', result: 'skipped', detail: 'the run left nothing on the replica' };
      if (context.othersInFlight || context.othersCached) return { action: 'unload', result: 'skipped', detail: 'other runs use the model' };
      const res = await call(replica.url, { method: 'POST', path: '/api/generate', body: { model, keep_alive: 0 } });
      return res.status === 200 ? { action: 'unload', result: 'ok', detail: model } : { action: 'unload', result: 'failed', detail: `status ${res.status}` };
    },
  };
}

/**
 * Ollama: no request priority, no pressure signal (`/api/ps` lists each loaded model's size but no
 * total), and it answers to `llama3` for the `llama3:latest` it lists.
 */
export const ollama: Engine = {
  kind: 'ollama',
  probePath: '/api/version',
  fields: [], // its OpenAI routes read none of the open-weight extensions (openai/openai.go)
  serves: (listed, model) => listed.includes(model) || listed.includes(`${model}:latest`),
  cache: ({ call }) => ollamaCache(call),
};
