import type { ActionResult, EngineAdapter, EngineCall } from '../types.js';
import { gaugeValue } from './metrics-text.js';

const SESSION_HEADER = 'x-session-id';

/**
 * Orla's simulator: requests carry the run as their session (`x-session-id`), so one run's blocks can
 * be freed alone (`POST /v1/sessions/{id}/flush`) without touching other runs' warm prefixes.
 */
export function simulatorAdapter(call: EngineCall): EngineAdapter {
  return {
    engine: 'simulator',
    tagRequest(run, _replica, _body, headers) {
      headers[SESSION_HEADER] = run;
    },
    async releaseRun(run, replica): Promise<ActionResult> {
      const res = await call(replica.url, { method: 'POST', path: `/v1/sessions/${encodeURIComponent(run)}/flush` });
      if (res.status !== 200) return { action: 'session_flush', result: 'failed', detail: `status ${res.status}` };
      const freed = (JSON.parse(res.text) as { freed_tokens?: number }).freed_tokens ?? 0;
      return { action: 'session_flush', result: 'ok', detail: `${freed} tokens freed` };
    },
    async usage(replica) {
      const res = await call(replica, { method: 'GET', path: '/metrics' });
      return res.status === 200 ? gaugeValue(res.text, ['vllm:kv_cache_usage_perc']) : undefined;
    },
  };
}
