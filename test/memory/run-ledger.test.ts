import { describe, expect, it } from 'vitest';
import { llamacppCache } from '../../upstream/engines/llamacpp.js';
import { sglangCache } from '../../upstream/engines/sglang.js';
import type { EngineCall } from '../../upstream/engines/index.js';
import { setup, TTL_MS } from './harness.js';

// The ledger and the release rules over a run's life, driven by hand (harness.ts): the store's clock
// is injected, adapters answer in process (a gate holds their releases when a test needs them late),
// and nothing waits on real time.

const LIGHT = 'http://light.test';
const HEAVY = 'http://heavy.test';

/** A recorder of the engine calls an adapter makes. */
const recorder = () => {
  const calls: string[] = [];
  const call: EngineCall = async (url, request) => {
    calls.push(`${url} ${request.method} ${request.path}`);
    return { status: 200, text: '{}' };
  };
  return { calls, call };
};

describe('a run that calls again after its idle TTL, before the sweep', () => {
  it('is a fresh run whose tokens the ledger counts; the old record is not released under it (engines know runs by id)', async () => {
    const { begin, end, runs, store, log, clock, settle, config, memory } = await setup();
    await end(await begin('r', 'a'), 100);
    clock.now += TTL_MS + 1;
    const back = await begin('r', 'a'); // ends the old run (idle), starts a fresh one
    expect(back.run.calls).toBe(1);
    expect(back.run.completed).toBeUndefined();
    await end(back, 950);
    await settle();
    expect(log).toEqual([]); // releasing the old record would free the new one's prefix

    expect((await runs.get('r'))!.resident[HEAVY]).toBe(950);
    expect((await store.runsOn(HEAVY)).map((r) => r.startedAt)).toEqual([back.run.startedAt]);

    // The pressure rule sees it (950 of 1000 tokens: above the high watermark) and reclaims it.
    expect(config.memory.pressure.high).toBe(0.9);
    await memory.pressure.tick();
    expect(log).toEqual([`r@${HEAVY}`]);
  });

  it("the old record's late release leaves alone the new record that has its id (engines know runs by id)", async () => {
    const { calls, call } = recorder();
    const { begin, end, memory, clock, settle, runs } = await setup({ backends: { l: { engine: 'llamacpp', urls: ['http://a.test'], slots: 4 } }, adapterOf: () => llamacppCache(call, 4) });
    const old = await begin('r', 'default');
    memory.tag(old.plan, 'http://a.test', {}, {}); // a long call, in flight past the idle TTL
    clock.now += TTL_MS + 1;
    const fresh = await begin('r', 'default'); // the run calls again: a new record
    const first: Record<string, unknown> = memory.tag(fresh.plan, 'http://a.test', {}, {}).body;
    await settle();
    calls.length = 0;
    await end(old, 500); // the old call ends while the new one runs
    await settle();
    expect(calls).toEqual([]); // the new record's slot is not erased under it
    expect((await runs.get('r'))!.startedAt).toBe(fresh.run.startedAt);
    const second: Record<string, unknown> = memory.tag(fresh.plan, 'http://a.test', {}, {}).body;
    expect(second.id_slot).not.toBe(first.id_slot); // its first request still runs there
  });

  it("counts for other runs' release decisions (othersCached)", async () => {
    const { begin, end, complete, contexts, clock, settle } = await setup();
    await end(await begin('r', 'a'), 100);
    clock.now += TTL_MS + 1;
    await end(await begin('r', 'a'), 500);
    await end(await begin('other', 'a'), 10);
    await settle();
    contexts.length = 0;
    await complete('other');
    await settle();
    expect(contexts).toEqual([expect.objectContaining({ othersCached: true })]);
  });
});

describe('X-Orla-Workflow-Done on a call that fails', () => {
  it('still ends the run and releases what it holds', async () => {
    const { begin, end, runs, store, log, settle } = await setup();
    await end(await begin('r', 'a'), 100);
    await end(await begin('r', 'b', { 'x-orla-workflow-done': 'true' }), 'failed');
    await settle();
    const run = (await runs.get('r'))!;
    expect(run).toMatchObject({ completed: { by: 'workflow-done' }, inFlight: 0, failedCalls: 1 });
    expect(log).toEqual([`r@${HEAVY}`]);
    expect(run.cacheActions.map((a) => a.reason)).toEqual(['completed:workflow-done']);
    expect(await store.runsOn(HEAVY)).toEqual([]);
  });
});

describe('the backend-switch rule with parallel stages', () => {
  it('releases the old backend once when two sibling stages start on another one', async () => {
    const { begin, end, log, memory, runs, settle } = await setup();
    await end(await begin('r', 'classify'), 100); // light
    const a = await begin('r', 'a'); // heavy
    const b = await begin('r', 'b'); // heavy, while "a" runs
    await settle();
    expect(log).toEqual([`r@${LIGHT}`]);
    expect((await runs.get('r'))!.cacheActions.map((x) => `${x.backend} ${x.reason}`)).toEqual(['light backend-switch']);
    expect(memory.header(a.plan, HEAVY)).toContain('released=light');
    expect(memory.header(b.plan, HEAVY)).not.toContain('released='); // the first claimed it
  });

  it('never releases a backend where a call of the run is still in flight; does once it is over', async () => {
    const { begin, end, log, settle } = await setup();
    await end(await begin('r', 'a'), 100); // heavy
    const onHeavy = await begin('r', 'a'); // in flight on heavy
    const onLight = await begin('r', 'classify'); // a sibling on light
    await settle();
    expect(log).toEqual([]);
    expect(onLight.plan.leaving).toEqual([]);
    await end(onHeavy, 200);
    await end(onLight, 50);
    const next = await begin('r', 'classify'); // nothing of the run on heavy any more: it has moved on
    await settle();
    expect(next.plan.leaving.map((l) => l.backend)).toEqual(['heavy']);
    expect(log).toEqual([`r@${HEAVY}`]);
  });
});

describe('a flush hint in an agent loop', () => {
  it('waits while the stage waits on a tool, and releases when its loop ends', async () => {
    const { begin, end, log, runs, settle } = await setup();
    await end(await begin('r', 'agent'), 100, { toolCalls: true });
    await end(await begin('r', 'agent'), 200, { toolCalls: true });
    await settle();
    expect(log).toEqual([]); // the next turn extends this context
    const last = await begin('r', 'agent');
    expect(last.plan.decision).toBe('release');
    await end(last, 300);
    await settle();
    expect(log).toEqual([`r@${HEAVY}`]);
    expect((await runs.get('r'))!.cacheActions.map((a) => a.reason)).toEqual(['hint=flush']);
  });

  it("a request's X-Orla-Cache: flush on a tool turn is carried out when the stage's next turn ends without tools", async () => {
    const { begin, end, log, memory, settle } = await setup();
    await end(await begin('r', 'a', { 'x-orla-cache': 'flush' }), 100, { toolCalls: true });
    await settle();
    expect(log).toEqual([]);
    const next = await begin('r', 'a'); // the agent did not repeat the header
    expect(memory.header(next.plan, HEAVY)).toMatch(/^release; hint=flush;/); // the put-off flush
    expect(memory.header(next.plan, HEAVY, true)).toMatch(/^preserve; hint=flush; deferred=tool-calls/); // unless it calls tools again
    await end(next, 200);
    await settle();
    expect(log).toEqual([`r@${HEAVY}`]);
  });

  it('never puts off the flush-per-request policy: a tool turn after a deferred hint releases both', async () => {
    const { begin, end, log, settle } = await setup({ policy: 'flush-per-request' });
    await end(await begin('r', 'a', { 'x-orla-cache': 'flush' }), 100, { toolCalls: true });
    await settle();
    expect(log).toEqual([]); // the hinted flush waits out the loop
    const next = await begin('r', 'a');
    expect(next.plan.reason).toBe('policy=flush-per-request');
    await end(next, 200, { toolCalls: true }); // the policy's release is not put off
    await settle();
    expect(log).toEqual([`r@${HEAVY}`]);
  });
});

describe('the cache policies differ as their names say', () => {
  it('preserve keeps a run\'s cache when it ends and when it moves; flush-per-workflow releases it', async () => {
    for (const [policy, expected] of [['preserve', []], ['flush-per-workflow', [`r@${LIGHT}`, `r@${HEAVY}`]]] as const) {
      const { begin, end, complete, log, settle } = await setup({ policy });
      await end(await begin('r', 'classify'), 100); // light
      await end(await begin('r', 'a'), 100); // heavy: the run left light
      await complete('r');
      await settle();
      expect(log, policy).toEqual(expected);
    }
  });
});

describe('releases cover every replica a run was tagged on', () => {
  const twoReplicas = { l: { engine: 'llamacpp', urls: ['http://a.test', 'http://b.test'], slots: 1 } };

  it("llama.cpp: a failed-over attempt leaves no slot assignment behind to block other runs' erases", async () => {
    const { calls, call } = recorder();
    const { begin, end, complete, memory, runs, settle } = await setup({ backends: twoReplicas, adapterOf: () => llamacppCache(call, 1) });
    const retried = await begin('ghost', 'default');
    memory.tag(retried.plan, 'http://a.test', {}, {}); // the attempt on a fails, dispatch retries on b
    memory.tag(retried.plan, 'http://b.test', {}, {});
    await end(retried, 100, { replica: 'http://b.test' });
    const failed = await begin('failed', 'default');
    memory.tag(failed.plan, 'http://a.test', {}, {}); // the whole call fails
    await end(failed, 'failed');
    await complete('ghost');
    await complete('failed');
    await settle();
    expect(calls.sort()).toEqual(['http://a.test POST /slots/0?action=erase', 'http://b.test POST /slots/0?action=erase']);

    // Another run on a: its slot is its own, and its erase is not skipped as shared with a ghost.
    calls.length = 0;
    const real = await begin('real', 'default');
    memory.tag(real.plan, 'http://a.test', {}, {});
    await end(real, 100, { replica: 'http://a.test' });
    await complete('real');
    await settle();
    expect(calls).toEqual(['http://a.test POST /slots/0?action=erase']);
    expect((await runs.get('real'))!.cacheActions.at(-1)).toMatchObject({ action: 'slot_erase', result: 'ok' });
  });

  it("SGLang: never closes a client's sessions, and flushes only where the run left tokens", async () => {
    const { calls, call } = recorder();
    const { begin, end, complete, memory, settle } = await setup({ backends: { s: { engine: 'sglang', urls: ['http://a.test', 'http://b.test'] } }, adapterOf: () => sglangCache(call) });
    const withSession = await begin('sess', 'default');
    memory.tag(withSession.plan, 'http://a.test', { session_id: 'sid-1' }, {}); // the attempt on a failed over to b
    memory.tag(withSession.plan, 'http://b.test', { session_id: 'sid-1' }, {});
    await end(withSession, 100, { replica: 'http://b.test' });
    const plain = await begin('plain', 'default');
    memory.tag(plain.plan, 'http://a.test', {}, {}); // no session; the attempt failed
    await end(plain, 'failed');
    await complete('sess');
    await complete('plain');
    await settle();
    expect(calls).toEqual(['http://b.test POST /flush_cache?timeout=2']);
  });
});

describe('what a global flush leaves behind', () => {
  const flushing = (log: string[]) => ({
    async releaseRun(run: string, replica: { url: string }, context: { othersInFlight: boolean; othersCached: boolean; underPressure: boolean }) {
      log.push(`${run}@${replica.url}`);
      if (context.othersInFlight || (context.othersCached && !context.underPressure)) return { action: 'global_flush', result: 'skipped' as const };
      return { action: 'global_flush', result: 'ok' as const, wholeReplica: true };
    },
  });

  it("a finished run whose release was skipped does not block a later run's idle flush", async () => {
    const log: string[] = [];
    const { begin, end, runs, settle } = await setup({ adapterOf: () => flushing(log) });
    await end(await begin('busy', 'a'), 100); // cached on the replica while "first" ends
    await end(await begin('first', 'a', { 'x-orla-workflow-done': 'true' }), 100);
    await settle();
    expect((await runs.get('first'))!.cacheActions.at(-1)).toMatchObject({ result: 'skipped' });
    await end(await begin('busy', 'a', { 'x-orla-workflow-done': 'true' }), 100);
    await settle();
    expect((await runs.get('busy'))!.cacheActions.at(-1)).toMatchObject({ result: 'ok' }); // "first" is over: it protects nothing
  });

  it('clears every run from the ledger of the replica it flushed', async () => {
    const log: string[] = [];
    const { begin, end, store, memory, settle } = await setup({ adapterOf: () => flushing(log) });
    await end(await begin('a', 'a'), 500);
    await end(await begin('b', 'a'), 450); // 950 of 1000 tokens: pressure
    await memory.pressure.tick();
    await settle();
    expect(log).toEqual([`a@${HEAVY}`]); // the first release flushed the replica: nothing left to free
    expect(await store.runsOn(HEAVY)).toEqual([]);
  });
});
