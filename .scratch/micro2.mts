import { Redis } from 'ioredis';
const redis = new Redis('redis://127.0.0.1:6411/0');
redis.defineCommand('noop', { numberOfKeys: 0, lua: 'return ARGV[1]' });
const N = 20000;
const measure = async (name: string, f: () => Promise<unknown>) => {
  for (let i = 0; i < 2000; i++) await f();
  const t0 = performance.now(); const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await f();
  const c = process.cpuUsage(c0);
  console.log(name, ((performance.now() - t0) * 1000 / N).toFixed(1), 'µs wall', ((c.user + c.system) / N).toFixed(1), 'µs cpu');
};
const big = 'x'.repeat(1500);
await measure('get', () => redis.get('nothing'));
await measure('noop script small', () => (redis as any).noop('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'));
await measure('noop script 1.5KB', () => (redis as any).noop(big));
redis.disconnect();
