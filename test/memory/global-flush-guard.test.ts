import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway } from '../helpers/gateway.js';
import { defaultAnswer, startRecordingEngine, type Received } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// SGLang's /flush_cache and vLLM's /reset_prefix_cache drop every run's cache on the replica, and
// must never be asked while another request runs there. Seen from the engine: what it was sent.

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

describe.each([
  ['sglang', '/flush_cache?timeout=2', 'global_flush'],
  ['vllm', '/reset_prefix_cache', 'reset_prefix_cache'],
] as const)('%s: the global flush', (engineKind, flushPath, action) => {
  async function setup() {
    const engine = await startRecordingEngine();
    const held: [Received, ServerResponse][] = [];
    // A call whose `user` is "hold" is answered only when the test says so.
    engine.respondWith((r, res) => (r.body.user === 'hold' ? held.push([r, res]) : defaultAnswer(r, res)));
    const gateway = await startTestGateway({
      backends: { main: { engine: engineKind, urls: [engine.url] } },
      stages: { default: { backend: 'main', model: 'm' } },
    });
    open.push(gateway, engine);
    const chat = (run: string, headers: Record<string, string> = {}, extra: object = {}) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, ...headers },
        body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: `work of ${run}` }], ...extra }),
      });
    const flushes = () => engine.received.filter((r) => r.url === flushPath).length;
    const actions = async (run: string) => (await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()).cache_actions as { action: string; result: string }[];
    return { engine, gateway, held, chat, flushes, actions };
  }

  it(`is sent (${flushPath}) when a run ends with nothing else in flight or cached on the replica`, async () => {
    const { chat, flushes, actions } = await setup();
    expect((await chat('alone', { 'x-orla-workflow-done': 'true' })).status).toBe(200);
    await until(async () => (await actions('alone')).length > 0, 'the release of the finished run');
    expect(flushes()).toBe(1);
    expect(await actions('alone')).toMatchObject([{ action, result: 'ok' }]);
  });

  it('is not sent while another run\'s request is in flight on the replica', async () => {
    const { gateway, held, chat, flushes, actions } = await setup();
    const busy = chat('busy', {}, { user: 'hold' });
    await until(() => held.length === 1, 'the other run\'s request to reach the engine');

    expect((await chat('done', { 'x-orla-workflow-done': 'true' })).status).toBe(200);
    await until(async () => (await actions('done')).length > 0, 'the release of the finished run');
    expect(flushes()).toBe(0);
    expect(await actions('done')).toMatchObject([{ action, result: 'skipped' }]);

    const [r, res] = held.shift()!;
    defaultAnswer(r, res);
    expect((await busy).status).toBe(200);
    expect(flushes()).toBe(0);
    expect((await (await fetch(`${gateway.url}/v1/workflows/busy`)).json()).status).toBe('idle');
  });
});
