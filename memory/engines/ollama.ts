import type { ActionResult, EngineAdapter, EngineCall } from '../types.js';

/**
 * Ollama keeps a whole model loaded, not a run's prefix: the only release is unloading the model
 * (`POST /api/generate {"model", "keep_alive": 0}`), done only when no other run uses it.
 */
export function ollamaAdapter(call: EngineCall, modelOf: (run: string) => string | undefined): EngineAdapter {
  return {
    engine: 'ollama',
    async releaseRun(run, replica, context): Promise<ActionResult> {
      const model = modelOf(run);
      if (!model) return { action: 'unload', result: 'skipped', detail: 'model unknown' };
      if (context.onlyTagged) return { action: 'unload', result: 'skipped', detail: 'the run left nothing on the replica' };
      if (context.othersInFlight || context.othersCached) return { action: 'unload', result: 'skipped', detail: 'other runs use the model' };
      const res = await call(replica.url, { method: 'POST', path: '/api/generate', body: { model, keep_alive: 0 } });
      return res.status === 200 ? { action: 'unload', result: 'ok', detail: model } : { action: 'unload', result: 'failed', detail: `status ${res.status}` };
    },
  };
}
