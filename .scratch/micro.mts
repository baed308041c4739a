import { Redis } from 'ioredis';
import { RedisRunStore } from '/work/wt-redis/sessions/redis-store.ts';
import { beginOps, endOps } from '/work/wt-redis/sessions/runs.ts';
const redis = new Redis('redis://127.0.0.1:6411/0', { enableOfflineQueue: true });
const store = new RedisRunStore(redis, { keyPrefix: 'micro:', maxRuns: 10000, idleTtlMs: 600000, onExpired: () => {} });
const N = 20000;
for (const round of [0, 1]) {
  const t0 = performance.now(); const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const id = `r${round}-${i >> 2}`;
    const now = Date.now();
    const { after } = await store.apply(id, [...beginOps({ stage: 's' } as any, 'm', now), { op: 'incrIn', field: 'inFlightOn', key: 'b', by: 1 }], { create: { inferred: false, now } });
    await store.apply(id, [{ op: 'incrIn', field: 'inFlightOn', key: 'b', by: -1 }, { op: 'setIn', field: 'resident', key: 'http://x', value: 30 }, ...endOps({ now, backend: 'b', stage: 's', served: { replica: 'http://x', promptTokens: 20, cachedTokens: 0, completionTokens: 5, costUsd: 0.001, toolCalls: false }, contextBefore: 0, workflowDone: false })], { ifStartedAt: after!.startedAt });
  }
  const c = process.cpuUsage(c0);
  console.log(round, 'per request (2 applies):', ((performance.now() - t0) * 1000 / N).toFixed(1), 'µs wall', ((c.user + c.system) / N).toFixed(1), 'µs cpu');
}
redis.disconnect();
