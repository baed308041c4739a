import { listedAs, OPEN_WEIGHT_SAMPLING, VLLM_GUIDED } from './fields.js';
import { globalFlushAllowed, type ActionResult, type CacheAdapter, type Engine, type EngineCall } from './types.js';
import { gaugeValue } from './metrics-text.js';

/**
 * Orla's simulator: requests carry the run as their session (`x-session-id`), so one run's blocks can
 * be freed alone (`POST /v1/sessions/{id}/flush`) without touching other runs' warm prefixes. That
 * frees only blocks no other session touched; when it frees nothing and the pressure rule needs
 * memory back, the global `POST /flush_cache` follows, under the same rules as SGLang's (refused
 * with 400 while requests run or wait).
 */
export function simulatorCache(call: EngineCall): CacheAdapter {
  return {
    // The simulator's session header (a literal key: a computed one builds a slower object).
    tagRequest: (run) => ({ headers: { 'x-session-id': run } }),
    async releaseRun(run, replica, context): Promise<ActionResult> {
      const res = await call(replica.url, { method: 'POST', path: `/v1/sessions/${encodeURIComponent(run)}/flush` });
      if (res.status !== 200) return { action: 'session_flush', result: 'failed', detail: `status ${res.status}` };
      const freed = (JSON.parse(res.text) as { freed_tokens?: number }).freed_tokens ?? 0;
      // The narrow flush did its part, or nothing asks for more: leave the rest to the LRU.
      if (freed > 0 || !context.underPressure) return { action: 'session_flush', result: 'ok', detail: `${freed} tokens freed` };
      if (!globalFlushAllowed(context)) {
        return { action: 'global_flush', result: 'skipped', detail: 'session flush freed nothing; other requests are in flight on the replica' };
      }
      const flush = await call(replica.url, { method: 'POST', path: '/flush_cache' });
      if (flush.status === 200) return { action: 'global_flush', result: 'ok', detail: 'session flush freed nothing', wholeReplica: true };
      if (flush.status === 400) return { action: 'global_flush', result: 'refused', detail: 'the simulator had running or waiting requests' };
      return { action: 'global_flush', result: 'failed', detail: `status ${flush.status}` };
    },
    async usage(replica) {
      const res = await call(replica, { method: 'GET', path: '/metrics' });
      return res.status === 200 ? gaugeValue(res.text, ['vllm:kv_cache_usage_perc']) : undefined;
    },
  };
}

/** Orla's simulator speaks vLLM's dialect, with `priority` higher first. */
export const simulator: Engine = {
  kind: 'simulator',
  probePath: '/health',
  priority: { order: 'higher_first' },
  fields: [...OPEN_WEIGHT_SAMPLING, ...VLLM_GUIDED, 'cache_salt', 'chat_template_kwargs'],
  serves: listedAs,
  cache: ({ call }) => simulatorCache(call),
};
