import { globalFlushAllowed, type ActionResult, type EngineAdapter, type EngineCall } from '../types.js';
import { gaugeValue } from './metrics-text.js';

const FLUSH_TIMEOUT_MS = 5_000;

/**
 * SGLang frees cache only globally: `POST /flush_cache` drops the whole radix tree, and SGLang itself
 * refuses while requests run or wait — answering 400 with the same "Cache flushed." text it sends on
 * success, so the status is what counts. Orla asks only when no other run is active on the replica;
 * otherwise the run's prefix is left to the radix cache's LRU.
 */
export function sglangAdapter(call: EngineCall): EngineAdapter {
  return {
    engine: 'sglang',
    async releaseRun(_run, replica, context): Promise<ActionResult> {
      if (!globalFlushAllowed(context)) {
        return { action: 'global_flush', result: 'skipped', detail: 'other runs are active or cached on the replica: left to the radix LRU' };
      }
      const res = await call(replica.url, { method: 'POST', path: '/flush_cache', timeoutMs: FLUSH_TIMEOUT_MS });
      if (res.status === 200) return { action: 'global_flush', result: 'ok' };
      if (res.status === 400) return { action: 'global_flush', result: 'refused', detail: 'SGLang had running or waiting requests' };
      return { action: 'global_flush', result: 'failed', detail: `status ${res.status}` };
    },
    async usage(replica) {
      const res = await call(replica, { method: 'GET', path: '/metrics' });
      return res.status === 200 ? gaugeValue(res.text, ['sglang:token_usage']) : undefined;
    },
  };
}
