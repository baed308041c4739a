import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { llamacppAdapter } from '../../memory/engines/llamacpp.js';
import { ollamaAdapter } from '../../memory/engines/ollama.js';
import { openaiAdapter } from '../../memory/engines/openai.js';
import { sglangAdapter } from '../../memory/engines/sglang.js';
import { simulatorAdapter } from '../../memory/engines/simulator.js';
import { vllmAdapter } from '../../memory/engines/vllm.js';
import type { EngineAdapter, EngineCall, ReleaseContext } from '../../memory/types.js';
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
/** The body a request of `run` leaves the adapter with (llama.cpp: its id_slot, cache_prompt). */
const tagged = (adapter: EngineAdapter, run: string): Record<string, unknown> => {
  const body: Record<string, unknown> = {};
  adapter.tagRequest!(run, engine.url, body, {});
  return body;
};

describe('engine adapters', () => {
  it('simulator: tags the run as its session, and frees only that session', async () => {
    engine.respondWith((_r, res) => json(res, 200, { session_id: 'run-1', freed_tokens: 64 }));
    const adapter = simulatorAdapter(call);
    const headers: Record<string, string> = {};
    adapter.tagRequest!('run-1', engine.url, {}, headers);
    expect(headers['x-session-id']).toBe('run-1');
    expect(await adapter.releaseRun('run-1', replica(), { ...idle, othersInFlight: true })).toEqual({ action: 'session_flush', result: 'ok', detail: '64 tokens freed' });
    expect(calls()).toEqual(['POST /v1/sessions/run-1/flush']);
  });

  it('simulator: flushes globally only under pressure when the session flush freed nothing, never while others run, and reports its refusal', async () => {
    let flushStatus = 200;
    engine.respondWith((r, res) => (r.url === '/flush_cache' ? res.writeHead(flushStatus).end('Cache flushed.\n') : json(res, 200, { session_id: 'r', freed_tokens: 0 })));
    const adapter = simulatorAdapter(call);
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

  it('SGLang: flushes globally only when nothing else is active or cached, and reports its refusal', async () => {
    const adapter = sglangAdapter(call);
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersInFlight: true })).result).toBe('skipped');
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersCached: true })).result).toBe('skipped');
    expect(calls()).toEqual([]);
    engine.respondWith((_r, res) => res.writeHead(400).end('Cache flushed.\nPlease check backend logs for more details. (When there are running or waiting requests, the operation will not be performed.)\n'));
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('refused');
    engine.respondWith((_r, res) => res.writeHead(200).end('Cache flushed.\n'));
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersCached: true, underPressure: true })).result).toBe('ok');
    expect(calls()).toEqual(['POST /flush_cache', 'POST /flush_cache']);
  });

  it("SGLang: closes the sessions a run's requests used when the run is released, and nothing else", async () => {
    const adapter = sglangAdapter(call);
    const body = { session_params: { id: 'sess-a', rid: 'x' } };
    adapter.tagRequest!('run-1', engine.url, body, {});
    adapter.tagRequest!('run-1', engine.url, { session_id: 'sess-b' }, {}); // the OpenAI routes' form
    adapter.tagRequest!('run-1', engine.url, { session_params: { id: 'sess-a' } }, {});
    adapter.tagRequest!('run-2', engine.url, { session_params: { id: 'sess-c' } }, {});
    expect(body).toEqual({ session_params: { id: 'sess-a', rid: 'x' } }); // the request goes as sent
    engine.respondWith((_r, res) => res.writeHead(200).end());
    expect(await adapter.releaseRun('run-1', replica(), { ...idle, othersInFlight: true })).toEqual({ action: 'close_session', result: 'ok', detail: 'sess-a, sess-b' });
    expect(engine.received.map((r) => [r.url, r.body])).toEqual([
      ['/close_session', { session_id: 'sess-a' }],
      ['/close_session', { session_id: 'sess-b' }],
    ]);
    // Closed once: the next release of the run falls back to the global rules (here: skipped).
    expect((await adapter.releaseRun('run-1', replica(), { ...idle, othersInFlight: true })).action).toBe('global_flush');
    engine.respondWith((_r, res) => json(res, 400, { object: 'error', message: 'unknown session' }));
    expect(await adapter.releaseRun('run-2', replica(), idle)).toEqual({ action: 'close_session', result: 'failed', detail: '1 of 1 sessions: status 400' });
  });

  it('vLLM: resets the prefix cache only when idle, and stops asking a server without dev mode', async () => {
    const adapter = vllmAdapter(call);
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
    const adapter = llamacppAdapter((url, request) => (asked.push(`${request.method} ${request.path}`), call(url, request)), undefined, () => (clockReads++, clock));
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
    const adapter = vllmAdapter(call, () => clock);
    engine.respondWith((_r, res) => json(res, 404, { detail: 'Not Found' }));
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('unsupported');
    clock += 10 * 60_000;
    engine.respondWith((_r, res) => res.writeHead(200).end());
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('ok');
    expect(calls()).toEqual(['POST /reset_prefix_cache', 'POST /reset_prefix_cache']);
  });

  it('llama.cpp: without a configured count, names no slot until GET /slots has told it how many', async () => {
    engine.respondWith((r, res) => (r.url === '/slots' ? json(res, 200, [{ id: 0 }, { id: 1 }, { id: 2 }]) : json(res, 501, { error: 'no --slot-save-path' })));
    const adapter = llamacppAdapter(call, undefined);
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
    expect(await vllmAdapter(call).usage!(engine.url)).toBe(0.42);
    expect(await sglangAdapter(call).usage!(engine.url)).toBe(0.77);
    // One sample per engine or rank: the fullest one counts.
    engine.respondWith((_r, res) => res.writeHead(200).end('vllm:kv_cache_usage_perc{engine="0"} 0.2\nvllm:kv_cache_usage_perc{engine="1"} 0.6\nsglang:token_usage{tp_rank="0"} 0.9\nsglang:token_usage{tp_rank="1"} 0.3\n'));
    expect(await vllmAdapter(call).usage!(engine.url)).toBe(0.6);
    expect(await sglangAdapter(call).usage!(engine.url)).toBe(0.9);
  });

  it('llama.cpp: gives each run its own slot and erases it at release', async () => {
    engine.respondWith((_r, res) => json(res, 200, { id_slot: 1, n_erased: 120 }));
    const adapter = llamacppAdapter(call, 2);
    const [first, second] = [tagged(adapter, 'a'), tagged(adapter, 'b')];
    expect([first.id_slot, second.id_slot]).toEqual([0, 1]);
    expect(first.cache_prompt).toBe(true);
    expect((await adapter.releaseRun('b', replica(), idle)).detail).toBe('slot 1');
    expect((await adapter.releaseRun('b', replica(), idle)).result).toBe('skipped');
    expect(calls()).toEqual(['POST /slots/1?action=erase']);
  });

  it('llama.cpp: with more runs than slots, erases a shared slot only when its last run is released', async () => {
    engine.respondWith((_r, res) => json(res, 200, { id_slot: 0, n_erased: 120 }));
    const adapter = llamacppAdapter(call, 1);
    const [a, b] = [tagged(adapter, 'a'), tagged(adapter, 'b')];
    expect([a.id_slot, b.id_slot]).toEqual([0, 0]);
    expect(await adapter.releaseRun('a', replica(), idle)).toEqual({ action: 'slot_erase', result: 'skipped', detail: 'slot 0 is shared with another run' });
    expect(calls()).toEqual([]);
    expect(await adapter.releaseRun('b', replica(), idle)).toEqual({ action: 'slot_erase', result: 'ok', detail: 'slot 0' });
    expect(calls()).toEqual(['POST /slots/0?action=erase']);
  });

  it('Ollama: unloads the run\'s model only when no other run uses it', async () => {
    engine.respondWith((_r, res) => json(res, 200, { done: true }));
    const adapter = ollamaAdapter(call, () => 'qwen3:8b');
    expect((await adapter.releaseRun('r', replica(), { ...idle, othersCached: true })).result).toBe('skipped');
    expect((await adapter.releaseRun('r', replica(), idle)).result).toBe('ok');
    expect(engine.received.map((r) => [r.url, r.body])).toEqual([['/api/generate', { model: 'qwen3:8b', keep_alive: 0 }]]);
  });

  it('hosted APIs: nothing to call, and says so', async () => {
    expect(await openaiAdapter.releaseRun('r', replica(), idle)).toMatchObject({ result: 'unsupported' });
  });
});
