import { listedAs, OPEN_WEIGHT_SAMPLING, VLLM_GUIDED } from './fields.js';
import { globalFlushAllowed, type ActionResult, type CacheAdapter, type Engine, type EngineCall } from './types.js';
import { gaugeValue } from './metrics-text.js';

/** How long a replica without the endpoint is not asked again (it may restart in dev mode). */
const NO_DEV_MODE_TTL_MS = 10 * 60_000;

/**
 * vLLM has no per-request cache release. `POST /reset_prefix_cache` (served only with
 * VLLM_SERVER_DEV_MODE=1) drops every cached block, and the engine declines while blocks are in use
 * (it answers 200 anyway and logs a warning, so "ok" means asked, not confirmed). Orla calls it only
 * on an idle replica, stops asking for a while once the endpoint is missing, and otherwise relies on
 * affinity and vLLM's LRU.
 */
export function vllmCache(call: EngineCall, now: () => number = Date.now): CacheAdapter {
  const noDevModeSince = new Map<string, number>();
  return {
    async releaseRun(_run, replica, context): Promise<ActionResult> {
      const since = noDevModeSince.get(replica.url);
      if (since !== undefined && now() - since < NO_DEV_MODE_TTL_MS) {
        return { action: 'reset_prefix_cache', result: 'unsupported', detail: 'server not in dev mode' };
      }
      if (context.onlyTagged) return { action: 'reset_prefix_cache', result: 'skipped', detail: 'the run left no tokens on the replica' };
      if (!globalFlushAllowed(context)) {
        return { action: 'reset_prefix_cache', result: 'skipped', detail: 'other runs are active or cached on the replica: left to the LRU' };
      }
      const res = await call(replica.url, { method: 'POST', path: '/reset_prefix_cache' });
      if (res.status === 404 || res.status === 405) {
        noDevModeSince.set(replica.url, now());
        return { action: 'reset_prefix_cache', result: 'unsupported', detail: 'server not in dev mode' };
      }
      return res.status === 200
        ? { action: 'reset_prefix_cache', result: 'ok', detail: 'asked; vLLM does not say whether it reset', wholeReplica: true }
        : { action: 'reset_prefix_cache', result: 'failed', detail: `status ${res.status}` };
    },
    async usage(replica) {
      const res = await call(replica, { method: 'GET', path: '/metrics' });
      // Renamed in vLLM 0.10; older servers export the GPU-named gauge.
      return res.status === 200 ? gaugeValue(res.text, ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc']) : undefined;
    },
  };
}

/**
 * vLLM: `priority` lower first (`--scheduling-policy priority`; without it a non-zero priority is a
 * 400), its sampling and structured-output extensions, `cache_salt` and `chat_template_kwargs`.
 */
export const vllm: Engine = {
  kind: 'vllm',
  probePath: '/health',
  priority: { order: 'lower_first', fixed: true },
  fields: [...OPEN_WEIGHT_SAMPLING, ...VLLM_GUIDED, 'cache_salt', 'chat_template_kwargs'],
  serves: listedAs,
  cache: ({ call }) => vllmCache(call),
};
