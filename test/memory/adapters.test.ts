import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { llamacppCache } from '../../upstream/engines/llamacpp.js';
import { ollamaCache } from '../../upstream/engines/ollama.js';
import { openaiCache } from '../../upstream/engines/openai.js';
import { sglangCache } from '../../upstream/engines/sglang.js';
import { simulatorCache } from '../../upstream/engines/simulator.js';
import { vllmCache } from '../../upstream/engines/vllm.js';
import type { CacheAdapter as EngineAdapter, EngineCall, ReleaseContext } from '../../upstream/engines/index.js';
import { json, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// Each engine adapter against a recording engine: exactly which calls it makes, and what it reports.

let engine: RecordingEngine;
beforeAll(async () => {
  engine = await startRecordingEngine();
});
afterAll(() => engine.close());
afterEach(() => {
  engine.received.length = 0;
  engine.respondWith(undefined);
});

const call: EngineCall = async (url, request) => {
  const res = await fetch(url + request.path, {
    method: request.method,
    headers: { 'content-type': 'application/json' },
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  return { status: res.status, text: await res.text() };
};
const calls = () => engine.received.map((r) => `${r.method} ${r.url}`);
const idle: ReleaseContext = { othersInFlight: false, othersCached: false, underPressure: false };
const replica = () => ({ url: engine.url, inFlight: 0 });
/** The body a request of `run` leaves the adapter with (llama.cpp: its id_slot, cache_prompt); ended at once unless `running`. */
const tagged = (adapter: EngineAdapter, run: string, running = false): Record<string, unknown> & { end?: () => void } => {
  const tags = adapter.tagRequest!(run, engine.url);
  const body: Record<string, unknown> = { ...tags?.body };
  if (!running) tags?.ended?.();
  return running ? { ...body, end: tags?.ended } : body;
};

describe('engine adapters', () => {
  it('simulator: tags the run as its session, and frees only that session', async () => {
    engine.respondWith((_r, res) => json(res, 200, { session_id: 'run-1', freed_tokens: 64 }));
    const adapter = simulatorCache(call);
    expect(adapter.tagRequest!('run-1', engine.url)).toEqual({ headers: { 'x-session-id': 'run-1' } });
    expect(await adapter.releaseRun('run-1', replica(), { ...idle, othersInFlight: true })).toEqual({ action: 'session_flush', result: 'ok', detail: '64 tokens freed' });
    expect(calls()).toEqual(['POST /v1/sessions/run-1/flush']);
  });

  it('simulator: flushes globally only under pressure when the session flush freed nothing, never while others run, and reports its refusal', async () => {
    let flushStatus = 200;
    engine.respondWith((r, res) => (r.url === '/flush_cache' ? res.writeHead(flushStatus).end('Cache flushed.\n') : json(res, 200, { session_id: 'r', freed_tokens: 0 })));
    const adapter = simulatorCache(call);
    const pressure = { ...idle, othersCached: true, underPressure: true };
    expect(await adapter.releaseRun('r', replica(), idle)).toEqual({ action: 'session_flush', result: 'ok', detail: '0 tokens freed' });
    expect(await adapter.releaseRun('r', replica(), { ...pressure, othersInFlight: true })).toMatchObject({ action: 'global_flush', result: 'skipped' });
    expect(await adapter.releaseRun('r', replica(), pressure)).toMatchObject({ action: 'global_flush', result: 'ok' });
    flushStatus = 400; // busy: the simulator answers as SGLang does
    expect(await adapter.releaseRun('r', replica(), pressure)).toMatchObject({ action: 'global_flush', result: 'refused' });
    expect(calls()).toEqual([
      'POST /v1/sessions/r/flush',
      'POST /v1/sessions/r/flush',
      'POST /v1/sessions/r/flush',
      'POST /flush_cache',
      'POST /v1/sessions/r/flush',
      'POST /flush_cache',
    ]);
  });

  it('SGLang: flushes globally (waiting up to 2 s for idle) only when nothing else is active or cached, and reports its refusal', async () => {
    const adapter = sglangCache(call);
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersInFlight: true })).result).toBe('skipped');
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersCached: true })).result).toBe('skipped');
    expect(calls()).toEqual([]);
    engine.respondWith((_r, res) => res.writeHead(400).end('Timed out waiting for idle state.'));
    expect(await adapter.releaseRun('r', replica(), idle)).toEqual({ action: 'global_flush', result: 'refused', detail: 'SGLang did not flush: Timed out waiting for idle state.' });
    engine.respondWith((_r, res) => json(res, 401, { error: 'Unauthorized' }));
    expect(await adapter.releaseRun('r', replica(), idle)).toMatchObject({ result: 'refused', detail: expect.stringContaining('admin_api_key') });
    engine.respondWith((_r, res) => res.writeHead(200).end('Cache flushed.\n'));
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersCached: true, underPressure: true })).result).toBe('ok');
    expect(calls()).toEqual(['POST /flush_cache?timeout=2', 'POST /flush_cache?timeout=2', 'POST /flush_cache?timeout=2']);
  });

  it("SGLang: leaves a client's sessions alone (its OpenAI routes ignore session_params; session_id is a label)", async () => {
    const adapter = sglangCache(call);
    expect(adapter.tagRequest).toBeUndefined(); // nothing is added to, or remembered of, a request
    engine.respondWith((_r, res) => res.writeHead(200).end('Cache flushed.\n'));
    expect((await adapter.releaseRun('run-1', replica(), idle)).action).toBe('global_flush');
    expect(calls()).toEqual(['POST /flush_cache?timeout=2']);
  });

  it('vLLM: resets the prefix cache only when idle, and stops asking a server without dev mode', async () => {
    const adapter = vllmCache(call);
    engine.respondWith((_r, res) => res.writeHead(200).end());
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('ok');
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersInFlight: true })).result).toBe('skipped');
    engine.respondWith((_r, res) => json(res, 404, { detail: 'Not Found' }));
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('unsupported');
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('unsupported');
    expect(calls()).toEqual(['POST /reset_prefix_cache', 'POST /reset_prefix_cache']);
  });

  it('llama.cpp: asks GET /slots again a while after it failed (a server still loading its model)', async () => {
    let clock = 0;
    let clockReads = 0; // the adapter reads its clock when it records a failed GET /slots
    engine.respondWith((_r, res) => json(res, 503, { error: 'Loading model' }));
    const asked: string[] = []; // what the adapter asks, as it asks it
    const adapter = llamacppCache((url, request) => (asked.push(`${request.method} ${request.path}`), call(url, request)), undefined, () => (clockReads++, clock));
    const tag = () => tagged(adapter, 'a').id_slot;
    expect(tag()).toBeUndefined();
    expect(asked).toEqual(['GET /slots']);
    await until(() => clockReads === 1, 'the failed GET /slots to be recorded');
    expect(tag()).toBeUndefined(); // not asked again at once
    expect(asked).toEqual(['GET /slots']);
    engine.respondWith((_r, res) => json(res, 200, [{ id: 0 }, { id: 1 }]));
    clock += 30_000;
    expect(tag()).toBeUndefined();
    expect(asked).toEqual(['GET /slots', 'GET /slots']);
    await until(() => tag() === 0, 'the slot count learned from the second GET /slots');
    expect(calls()).toEqual(['GET /slots', 'GET /slots']);
  });

  it('vLLM: asks a server without dev mode again after a while (it may have restarted with it)', async () => {
    let clock = 0;
    const adapter = vllmCache(call, () => clock);
    engine.respondWith((_r, res) => json(res, 404, { detail: 'Not Found' }));
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('unsupported');
    clock += 10 * 60_000;
    engine.respondWith((_r, res) => res.writeHead(200).end());
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('ok');
    expect(calls()).toEqual(['POST /reset_prefix_cache', 'POST /reset_prefix_cache']);
  });

  it('llama.cpp: without a configured count, names no slot until GET /slots has told it how many', async () => {
    engine.respondWith((r, res) => (r.url === '/slots' ? json(res, 200, [{ id: 0 }, { id: 1 }, { id: 2 }]) : json(res, 501, { error: 'no --slot-save-path' })));
    const adapter = llamacppCache(call, undefined);
    expect(tagged(adapter, 'a').id_slot).toBeUndefined(); // a slot the server may not have would hold the request forever
    await until(() => tagged(adapter, 'a').id_slot !== undefined, 'the slot count learned from GET /slots');
    expect(calls()).toEqual(['GET /slots']);
    const slots = ['a', 'b', 'c'].map((run) => tagged(adapter, run).id_slot);
    expect(slots).toEqual([0, 1, 2]);
    // Started without --slot-save-path: erase answers 501, reported once, not asked again.
    expect((await adapter.releaseRun('a', replica(), idle)).result).toBe('unsupported');
    expect((await adapter.releaseRun('b', replica(), idle)).result).toBe('unsupported');
    expect(calls()).toEqual(['GET /slots', 'POST /slots/0?action=erase']);
  });

  it('vLLM and SGLang: read KV usage from their own gauges', async () => {
    engine.respondWith((_r, res) => res.writeHead(200).end('# HELP x\nvllm:gpu_cache_usage_perc{model_name="m"} 0.42\nsglang:token_usage{model_name="m"} 0.77\n'));
    expect(await vllmCache(call).usage!(engine.url)).toBe(0.42);
    expect(await sglangCache(call).usage!(engine.url)).toBe(0.77);
    // One sample per engine or rank: the fullest one counts.
    engine.respondWith((_r, res) => res.writeHead(200).end('vllm:kv_cache_usage_perc{engine="0"} 0.2\nvllm:kv_cache_usage_perc{engine="1"} 0.6\nsglang:token_usage{tp_rank="0"} 0.9\nsglang:token_usage{tp_rank="1"} 0.3\n'));
    expect(await vllmCache(call).usage!(engine.url)).toBe(0.6);
    expect(await sglangCache(call).usage!(engine.url)).toBe(0.9);
  });

  it('llama.cpp: gives each run its own slot and erases it at release', async () => {
    engine.respondWith((_r, res) => json(res, 200, { id_slot: 1, n_erased: 120 }));
    const adapter = llamacppCache(call, 2);
    const [first, second] = [tagged(adapter, 'a'), tagged(adapter, 'b')];
    expect([first.id_slot, second.id_slot]).toEqual([0, 1]);
    expect(first.cache_prompt).toBe(true);
    expect(tagged(adapter, 'a').id_slot).toBe(0); // its next call finds its prefix there
    expect((await adapter.releaseRun('b', replica(), idle)).detail).toBe('slot 1');
    expect((await adapter.releaseRun('b', replica(), idle)).result).toBe('skipped');
    expect(calls()).toEqual(['POST /slots/1?action=erase']);
  });

  it('llama.cpp: never pins a request to a busy slot, which would make it wait: a parallel stage gets a free slot, else llama.cpp chooses', async () => {
    const adapter = llamacppCache(call, 2);
    const first = tagged(adapter, 'a', true); // still running on slot 0
    const parallel = tagged(adapter, 'a', true);
    expect([first.id_slot, parallel.id_slot]).toEqual([0, 1]);
    expect(tagged(adapter, 'b')).toEqual({}); // every slot busy or held: no id_slot, llama.cpp picks one
    first.end!();
    expect(tagged(adapter, 'a').id_slot).toBe(0);
    expect(tagged(adapter, 'b')).toEqual({}); // slot 0 is free of requests but holds run a's prefix
  });

  it('llama.cpp: erases only the idle slots of a released run, and gives them to other runs', async () => {
    engine.respondWith((_r, res) => json(res, 200, { id_slot: 0, n_erased: 120 }));
    const adapter = llamacppCache(call, 2);
    const running = tagged(adapter, 'a', true);
    tagged(adapter, 'a', true).end!(); // a parallel stage on slot 1, over
    expect(await adapter.releaseRun('a', replica(), idle)).toEqual({ action: 'slot_erase', result: 'ok', detail: "slot 1; slot 0 busy: left to llama.cpp's LRU" });
    expect(calls()).toEqual(['POST /slots/1?action=erase']);
    expect(tagged(adapter, 'b', true).id_slot).toBe(1);
    running.end!();
    expect(tagged(adapter, 'c').id_slot).toBe(0); // no run holds slot 0 any more
  });

  it('Ollama: unloads the run\'s model only when no other run uses it', async () => {
    engine.respondWith((_r, res) => json(res, 200, { done: true }));
    const adapter = ollamaCache(call);
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersCached: true, model: 'qwen3:8b' })).result).toBe('skipped');
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('skipped'); // the run's model is unknown
    expect((await adapter.releaseRun('r', replica(), { ...idle, model: 'qwen3:8b' })).result).toBe('ok');
    expect(engine.received.map((r) => [r.url, r.body])).toEqual([['/api/generate', { model: 'qwen3:8b', keep_alive: 0 }]]);
  });

  it('hosted APIs: nothing to call, and says so', async () => {
    expect(await openaiCache.releaseRun('r', replica(), idle)).toMatchObject({ result: 'unsupported' });
  });
});
