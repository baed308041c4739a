import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { defaultAnswer, json, startRecordingEngine, type Received } from '../helpers/recording-engine.js';
import { until, within } from '../helpers/wait.js';

// Scheduling through real HTTP: an engine that answers only when the test says so, and one slot.

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function setup(backendExtra: object = {}, configExtra: object = {}, baseDir?: string) {
  const engine = await startRecordingEngine();
  const held: [Received, ServerResponse][] = [];
  engine.respondWith((r, res) => held.push([r, res]));
  const gateway = await startTestGateway(
    {
      backends: { main: { engine: 'vllm', urls: [engine.url], max_concurrency: 1, ...backendExtra } },
      stages: { default: { backend: 'main', model: 'm' } },
      ...configExtra,
    },
    baseDir,
  );
  open.push(gateway, engine);
  /** Answers the oldest held request. */
  const answerNext = () => {
    const next = held.shift()!;
    defaultAnswer(next[0], next[1]);
  };
  return { engine, gateway, held, answerNext };
}

const chat = (gateway: RunningGateway, headers: Record<string, string> = {}, init: RequestInit = {}, body: object = {}) =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }], ...body }),
    ...init,
  });

const backendState = async (gateway: RunningGateway) => (await (await fetch(`${gateway.url}/v1/backends`)).json()).data[0];

describe('scheduling through the gateway', () => {
  it('under priority, the engine receives waiting requests highest priority first', async () => {
    const { engine, gateway, held, answerNext } = await setup({}, { scheduler: { stage: 'priority', request: 'priority' } });
    const first = chat(gateway, { 'x-orla-tag-n': 'first' });
    await until(() => held.length === 1, '1 request held at the engine');
    const rest = ['1', '9', '5'].map((p) => chat(gateway, { 'x-orla-priority': p, 'x-orla-stage': `s${p}` }, {}, { n: Number(p) }));
    await until(async () => (await backendState(gateway)).waiting === 3, '3 waiting in the queue');
    for (let i = 0; i < 4; i++) {
      await until(() => held.length === 1, '1 request held at the engine');
      answerNext();
    }
    await Promise.all([first, ...rest]);
    expect(engine.received.map((r) => r.body.n ?? 'first')).toEqual(['first', 9, 5, 1]);
  });

  it('a request that waited says so in X-Orla-Queue-Ms', async () => {
    const { gateway, held, answerNext } = await setup();
    const first = chat(gateway);
    await until(() => held.length === 1, '1 request held at the engine');
    const second = chat(gateway);
    await until(async () => (await backendState(gateway)).waiting === 1, '1 waiting in the queue');
    answerNext();
    await until(() => held.length === 1, '1 request held at the engine');
    answerNext();
    const [firstWait, secondWait] = [(await first).headers.get('x-orla-queue-ms'), (await second).headers.get('x-orla-queue-ms')];
    for (const wait of [firstWait, secondWait]) expect(wait).toMatch(/^\d+(\.\d+)?$/); // present, a non-negative decimal
    expect(Number(secondWait)).toBeGreaterThan(0);
  });

  it('a queued request whose client leaves never reaches the engine, and frees its place', async () => {
    const { engine, gateway, held, answerNext } = await setup();
    const first = chat(gateway);
    await until(() => held.length === 1, '1 request held at the engine');
    const controller = new AbortController();
    const gone = chat(gateway, {}, { signal: controller.signal }).catch((e: Error) => e);
    await until(async () => (await backendState(gateway)).waiting === 1, '1 waiting in the queue');
    controller.abort();
    expect(await gone).toBeInstanceOf(Error);
    await until(async () => (await backendState(gateway)).waiting === 0, '0 waiting in the queue');
    answerNext();
    expect((await first).status).toBe(200);
    expect(engine.received).toHaveLength(1);
    expect(await backendState(gateway)).toMatchObject({ waiting: 0, replicas: [{ in_flight: 0 }] });
  });

  it('a full queue answers 429 with Retry-After, and the request never reaches the engine', async () => {
    const { engine, gateway, held, answerNext } = await setup({ queue_limit: 1 });
    const first = chat(gateway);
    await until(() => held.length === 1, '1 request held at the engine');
    const queued = chat(gateway);
    await until(async () => (await backendState(gateway)).waiting === 1, '1 waiting in the queue');
    const full = await within(chat(gateway), 'the request past the queue limit to be answered (429, not queued)');
    expect(full.status).toBe(429);
    expect(full.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await full.json()).error.code).toBe('queue_full');
    answerNext();
    await until(() => held.length === 1, '1 request held at the engine');
    answerNext();
    await Promise.all([first, queued]);
    expect(engine.received).toHaveLength(2);
  });

  it('a request not dispatched before its deadline answers 408 and never reaches the engine', async () => {
    const { engine, gateway, held, answerNext } = await setup();
    const first = chat(gateway);
    await until(() => held.length === 1, '1 request held at the engine');
    const expired = await within(chat(gateway, { 'x-orla-deadline-ms': '50' }), 'the request to be answered at its deadline'); // the only slot stays busy
    expect(expired.status).toBe(408);
    expect((await expired.json()).error.code).toBe('deadline_exceeded');
    answerNext();
    await first;
    expect(engine.received).toHaveLength(1);
  });

  it('raising max_concurrency at run time dispatches the waiting requests', async () => {
    const { gateway, held } = await setup();
    chat(gateway);
    chat(gateway);
    chat(gateway);
    await until(async () => (await backendState(gateway)).waiting === 2, '2 waiting in the queue');
    const patched = await fetch(`${gateway.url}/v1/backends/main`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"max_concurrency": 3}' });
    expect((await patched.json()).max_concurrency).toBe(3);
    await until(() => held.length === 3, '3 requests held at the engine');
    for (const [r, res] of held.splice(0)) defaultAnswer(r, res);
  });

  it('a custom policy module orders the queue (shortest prompt first, in a few lines)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orla-policy-'));
    writeFileSync(
      join(dir, 'shortest-prompt.js'),
      `export default {\n  name: 'shortest-prompt',\n  pick: (waiting) => waiting.reduce((best, w, i) => (w.promptTokens < waiting[best].promptTokens ? i : best), 0),\n};\n`,
    );
    const { engine, gateway, held, answerNext } = await setup({}, { scheduler: { request: './shortest-prompt.js' } }, dir);
    const first = chat(gateway);
    await until(() => held.length === 1, '1 request held at the engine');
    const long = chat(gateway, {}, {}, { n: 2, messages: [{ role: 'user', content: 'x'.repeat(4000) }] });
    await until(async () => (await backendState(gateway)).waiting === 1, '1 waiting in the queue');
    const short = chat(gateway, {}, {}, { n: 1 });
    await until(async () => (await backendState(gateway)).waiting === 2, '2 waiting in the queue');
    for (let i = 0; i < 3; i++) {
      await until(() => held.length === 1, '1 request held at the engine');
      answerNext();
    }
    await Promise.all([first, long, short]);
    expect(engine.received.map((r) => r.body.n ?? 0)).toEqual([0, 1, 2]);
  });
});

describe('resilience', () => {
  it('retries a retryable status before the first byte, and the client never sees the failure', async () => {
    const engine = await startRecordingEngine();
    let calls = 0;
    engine.respondWith((r, res) => (++calls === 1 ? json(res, 503, { error: { message: 'busy' } }) : defaultAnswer(r, res)));
    const gateway = await startTestGateway({ backends: { main: { engine: 'vllm', urls: [engine.url], retries: { backoff_ms: 1 } } }, stages: { default: { backend: 'main' } } });
    open.push(gateway, engine);
    expect((await chat(gateway)).status).toBe(200);
    expect(engine.received).toHaveLength(2);
  });

  it('never retries once the first byte reached the client', async () => {
    const engine = await startRecordingEngine();
    engine.respondWith((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', () => res.destroy());
    });
    const gateway = await startTestGateway({ backends: { main: { engine: 'vllm', urls: [engine.url], retries: { backoff_ms: 1 } } }, stages: { default: { backend: 'main' } } });
    open.push(gateway, engine);
    const text = await (await chat(gateway, {}, {}, { stream: true })).text();
    expect(text).toContain('"error"');
    expect(engine.received).toHaveLength(1);
  });

  it('reroutes to a fallback once the primary\'s circuit is open', async () => {
    const engine = await startRecordingEngine();
    const gateway = await startTestGateway({
      backends: {
        primary: { engine: 'vllm', urls: ['http://127.0.0.1:9'], circuit: { failures: 1, open_ms: 60_000 }, retries: { attempts: 0 } },
        spare: { engine: 'sglang', urls: [engine.url] },
      },
      stages: { default: { backend: 'primary', model: 'big', fallbacks: [{ backend: 'spare', model: 'small' }] } },
    });
    open.push(gateway, engine);
    expect((await chat(gateway)).status).toBe(502);
    const rerouted = await chat(gateway);
    expect(rerouted.status).toBe(200);
    expect(rerouted.headers.get('x-orla-backend')).toBe('spare');
    expect(rerouted.headers.get('x-orla-rerouted')).toBe('primary');
    expect(engine.received[0]!.body.model).toBe('small');
  });

  it('answers 503 with Retry-After when the circuit is open and there is no fallback', async () => {
    const gateway = await startTestGateway({
      backends: { primary: { engine: 'vllm', urls: ['http://127.0.0.1:9'], circuit: { failures: 1, open_ms: 30_000 }, retries: { attempts: 0 } } },
      stages: { default: { backend: 'primary' } },
    });
    open.push(gateway);
    await chat(gateway);
    const res = await chat(gateway);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(1);
    const state = await backendState(gateway);
    expect(state.replicas[0].circuit).toBe('open');
  });

  it('leaks no slot after a storm of aborts, failures and successes', async () => {
    const engine = await startRecordingEngine();
    let n = 0;
    engine.respondWith((r, res) => {
      const i = n++;
      if (i % 3 === 0) json(res, 500, { error: { message: 'boom' } });
      else if (i % 3 === 1) res.destroy();
      else defaultAnswer(r, res);
    });
    const gateway = await startTestGateway({
      backends: { main: { engine: 'vllm', urls: [engine.url], max_concurrency: 2, retries: { attempts: 1, backoff_ms: 1 }, circuit: { failures: 1000 } } },
      stages: { default: { backend: 'main' } },
    });
    open.push(gateway, engine);
    const calls = Array.from({ length: 40 }, (_, i) => {
      const controller = new AbortController();
      const call = chat(gateway, {}, { signal: controller.signal }, { stream: i % 2 === 0 }).then((r) => r.text()).catch(() => 'aborted');
      if (i % 4 === 0) setImmediate(() => controller.abort());
      return call;
    });
    await Promise.all(calls);
    await until(async () => {
      const s = await backendState(gateway);
      return s.waiting === 0 && s.replicas[0].in_flight === 0;
    }, 'every slot back and the queue empty');
  });
});

describe('priority forwarded to engines', () => {
  it.each([
    ['vllm', true, undefined, -8],
    ['sglang', true, undefined, 8],
    ['sglang', true, 'lower_first', -8], // --schedule-low-priority-values-first
    ['vllm', false, undefined, undefined],
    ['llamacpp', true, undefined, undefined],
  ] as const)('%s with priority_scheduling %s and priority_order %s receives priority %s', async (engineKind, enabled, order, expected) => {
    const engine = await startRecordingEngine();
    const gateway = await startTestGateway({
      backends: { main: { engine: engineKind, urls: [engine.url], priority_scheduling: enabled, ...(order ? { priority_order: order } : {}) } },
      stages: { default: { backend: 'main' } },
    });
    open.push(gateway, engine);
    await chat(gateway, { 'x-orla-priority': '8' }, {}, { priority: 3 });
    expect(engine.received[0]!.body.priority).toBe(expected);
  });
});
