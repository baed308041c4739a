// The core pipeline in one process, on the web path, with a canned upstream: CPU per request of tree A vs B.
import { pino } from 'pino';
const which = process.argv[2];
const root = which === 'A' ? '/work/main/.ab/a605dcf/.bench-out' : '/work/main/.bench-out';
const { validateConfig } = await import(`${root}/config/load.js`);
const { createApp } = await import(`${root}/gateway/app.js`);
const { GatewayMetrics } = await import(`${root}/gateway/metrics.js`);
const { webPlatform } = await import(`${root}/gateway/web/platform.js`);
const { ExplicitMapper } = await import(`${root}/routing/mappers/explicit.js`);
const { createBackends } = await import(`${root}/routing/registry.js`);
const { loadPolicies } = await import(`${root}/routing/scheduler/factory.js`);
const fetchMod = which === 'A' ? `${root}/routing/upstream/fetch.js` : `${root}/upstream/clients/fetch.js`;
const { FetchUpstream } = await import(fetchMod);
const answer = JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there, how can I help?' }, finish_reason: 'stop' }], usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 } });
const fakeFetch = async () => new Response(answer, { headers: { 'content-type': 'application/json' } });
const config = validateConfig({ server: { log_level: 'warn' }, backends: { sim: { engine: 'simulator', urls: ['http://sim.test'] } }, stages: { default: { backend: 'sim' } }, memory: { pressure: { interval_ms: 0 } } }, { env: {} });
const policies = await loadPolicies(config, '.');
const metrics = new GatewayMetrics();
const backends = createBackends(config, (_n, b) => b.urls, (url, t) => new FetchUpstream(url, t, fakeFetch), policies, metrics);
const log = pino({ level: 'warn' });
let app;
if (which === 'A') {
  const { createMemory } = await import(`${root}/memory/index.js`);
  const memory = createMemory(config, backends, metrics);
  app = createApp({ config, backends, mapper: new ExplicitMapper(config.stages), policies, memory: memory.manager, platform: webPlatform, metrics, log }).app;
} else {
  const { createCore } = await import(`${root}/gateway/core.js`);
  const core = createCore(config, backends, { observer: metrics, log });
  app = createApp({ config, backends, mapper: new ExplicitMapper(config.stages), core, platform: webPlatform, metrics, log }).app;
}
const body = JSON.stringify({ model: 'sim-instant', messages: [{ role: 'user', content: 'Summarise the ticket: my card was charged twice for one order.' }], max_tokens: 16 });
const once = async () => { const res = await app.fetch(new Request('http://orla.test/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body })); await res.arrayBuffer(); };
const W = Number(process.argv[3] ?? 20000); for (let i = 0; i < W; i++) await once();
const N = Number(process.argv[4] ?? 40000); const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < N; i++) await once();
const cpu = process.cpuUsage(c0);
console.log(which, ((cpu.user + cpu.system) / N).toFixed(2), 'µs CPU per request', ((performance.now() - t0) * 1000 / N).toFixed(2), 'µs wall');
process.exit(0);
