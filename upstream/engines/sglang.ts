import { listedAs, OPEN_WEIGHT_SAMPLING } from './fields.js';
import { globalFlushAllowed, type ActionResult, type CacheAdapter, type Engine, type EngineCall } from './types.js';
import { gaugeValue } from './metrics-text.js';

/** How long SGLang may wait for the requests Orla cannot see to drain before it flushes (`?timeout=`). */
const FLUSH_WAIT_S = 2;

/**
 * SGLang's OpenAI routes offer no way to free one run's cache: they ignore `session_params` (its
 * serving_chat.py and serving_completions.py forward only `session_id`), and a top-level `session_id`
 * is an identity label (with `--enable-session-radix-cache`, an eviction preference the server keeps
 * itself). So Orla passes both through untouched and never opens or closes a session: closing one a
 * client uses would break its next call, and closing a label frees nothing.
 *
 * What is left is the global `POST /flush_cache`, which drops the whole radix tree. Orla asks only
 * when no other run is in flight or cached on the replica (or under pressure), with `?timeout=` so
 * that SGLang waits for requests Orla cannot see to drain instead of refusing at once (builds
 * without it ignore the parameter). SGLang answers 400 when it did not flush (busy, timed out, another
 * flush under way). It is an admin route: a server with `--admin-api-key` wants that key (the
 * backend's `admin_api_key`), else its `--api-key`, and answers 401 without it.
 */
export function sglangCache(call: EngineCall): CacheAdapter {
  return {
    async releaseRun(_run, replica, context): Promise<ActionResult> {
      if (context.onlyTagged) return { action: 'global_flush', result: 'skipped', detail: 'the run left no tokens on the replica' };
      if (!globalFlushAllowed(context)) {
        return { action: 'global_flush', result: 'skipped', detail: 'other runs are active or cached on the replica: left to the radix LRU' };
      }
      const res = await call(replica.url, { method: 'POST', path: `/flush_cache?timeout=${FLUSH_WAIT_S}`, admin: true, timeoutMs: (FLUSH_WAIT_S + 5) * 1000 });
      if (res.status === 200) return { action: 'global_flush', result: 'ok', wholeReplica: true };
      if (res.status === 400) return { action: 'global_flush', result: 'refused', detail: `SGLang did not flush: ${res.text.trim().split('\n')[0]}` };
      if (res.status === 401 || res.status === 403) {
        return { action: 'global_flush', result: 'refused', detail: `status ${res.status}: the server wants its admin key (set the backend's admin_api_key)` };
      }
      return { action: 'global_flush', result: 'failed', detail: `status ${res.status}` };
    },
    async usage(replica) {
      const res = await call(replica, { method: 'GET', path: '/metrics' });
      return res.status === 200 ? gaugeValue(res.text, ['sglang:token_usage']) : undefined;
    },
  };
}

/**
 * SGLang: `priority` higher first (`--enable-priority-scheduling`; `--schedule-low-priority-values-first`
 * reverses it), its sampling extensions, `cache_salt` (recent protocol.py) and `chat_template_kwargs`.
 */
export const sglang: Engine = {
  kind: 'sglang',
  probePath: '/health',
  priority: { order: 'higher_first' },
  fields: [...OPEN_WEIGHT_SAMPLING, 'cache_salt', 'chat_template_kwargs'],
  serves: listedAs,
  cache: ({ call }) => sglangCache(call),
};
