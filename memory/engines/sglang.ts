import { globalFlushAllowed, type ActionResult, type EngineAdapter, type EngineCall } from '../types.js';
import { gaugeValue } from './metrics-text.js';

const FLUSH_TIMEOUT_MS = 5_000;

/**
 * SGLang frees one run's cache only through its sessions: a client that uses them (`POST
 * /open_session`, then `session_id` on its OpenAI-route requests, or `session_params: {id}` where its
 * SGLang version takes that; a session pins its KV until closed) has them closed by Orla when the run
 * is released (`POST /close_session {session_id}`), on every replica its requests were tagged on (a
 * failed or retried attempt too), so a run that ends or goes idle never leaves KV pinned. Otherwise only a global `POST /flush_cache` exists: it drops the whole radix tree, and
 * SGLang refuses it while requests run or wait (400, with a message), so the status is what counts
 * (a server that wants an admin key for it answers 401: reported as failed). Orla asks only when no
 * other run is active on the replica; otherwise the run's prefix is left to the radix cache's LRU.
 */
export function sglangAdapter(call: EngineCall): EngineAdapter {
  const sessions = new Map<string, Set<string>>(); // `${replica} ${run}` → session ids seen
  return {
    engine: 'sglang',
    tagRequest(run, replica, body) {
      const id = body.session_id ?? (body.session_params as { id?: unknown } | null | undefined)?.id;
      if (typeof id !== 'string') return;
      const key = `${replica} ${run}`;
      const ids = sessions.get(key);
      if (ids) ids.add(id);
      else sessions.set(key, new Set([id]));
    },
    async releaseRun(run, replica, context): Promise<ActionResult> {
      const key = `${replica.url} ${run}`;
      const ids = sessions.get(key);
      if (ids) {
        sessions.delete(key);
        const statuses = await Promise.all(
          [...ids].map(async (id) => (await call(replica.url, { method: 'POST', path: '/close_session', body: { session_id: id } })).status),
        );
        const failed = statuses.filter((s) => s !== 200).length;
        return failed === 0
          ? { action: 'close_session', result: 'ok', detail: [...ids].join(', ') }
          : { action: 'close_session', result: 'failed', detail: `${failed} of ${ids.size} sessions: status ${statuses.find((s) => s !== 200)}` };
      }
      if (context.onlyTagged) return { action: 'global_flush', result: 'skipped', detail: 'the run left no tokens on the replica' };
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
