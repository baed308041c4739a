import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { createMemory, type Memory } from '../../memory/index.js';
import { reclaimOrder } from '../../memory/reclaim.js';
import type { Backend } from '../../routing/backends.js';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import { fcfsRequest } from '../../routing/scheduler/policies/fcfs.js';
import { UndiciUpstream } from '../../routing/upstream/undici.js';
import { identify } from '../../sessions/identity.js';
import { MemorySessionStore, type RunRecord } from '../../sessions/runs.js';
import { json, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';

// The manager's rules on their own: an engine that records what it is asked, and calls driven by hand.

let engines: RecordingEngine[];
let backend: Backend;
let memory: Memory;

beforeAll(async () => {
  engines = await Promise.all([startRecordingEngine(), startRecordingEngine(), startRecordingEngine()]);
  for (const e of engines) e.respondWith((r, res) => json(res, 200, { session_id: r.url, freed_tokens: 1 }));
  const config = validateConfig({
    backends: { sim: { engine: 'simulator', urls: engines.map((e) => e.url), kv_capacity_tokens: 1000, max_concurrency: 10 } },
    stages: { default: { backend: 'sim' } },
    memory: { pressure: { interval_ms: 0, high: 0.9, low: 0.5 } },
  });
  const backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new UndiciUpstream(url, t), await loadPolicies(config, '.'));
  backend = backends.get('sim')!;
  memory = createMemory(config, backends);
});
afterAll(async () => {
  memory.stop();
  await Promise.all(engines.map((e) => e.close()));
});

const identityOf = (run: string) => identify({ 'x-orla-workflow-run': run, 'x-orla-stage': 's' }, { messages: [{ role: 'user', content: 'x' }] });
const ticket = { stage: 's', run: undefined, priority: 0, promptTokens: 1, requestScheduler: fcfsRequest, weight: 1 };

/** One call of `run` that leaves `tokens` of it on the replica it lands on. */
async function callOf(run: string, tokens: number, toolCalls = false) {
  const plan = memory.manager.plan(identityOf(run), backend, 'default', 'm')!;
  const lease = await backend.acquire({ ...ticket, run, affinity: plan.affinity });
  lease.release('success');
  memory.manager.completed(plan, { replica: lease.replica, promptTokens: tokens, cachedTokens: 0, completionTokens: 0, costUsd: 0, toolCalls });
  return { plan, replica: lease.replica };
}

const SESSION_FLUSH = /^\/v1\/sessions\/([^/]+)\/flush$/;
const flushedRuns = () => engines.flatMap((e) => e.received.flatMap((r) => SESSION_FLUSH.exec(r.url)?.[1] ?? []));


describe('the memory manager', () => {
  it('sends a run back to the replica holding its prefix', async () => {
    const first = await callOf('aff', 10);
    const again = await callOf('aff', 20);
    expect(again.plan.affinity).toBe(first.replica);
    expect(again.replica).toBe(first.replica);
    expect(memory.manager.header(again.plan, again.replica)).toContain('replica=hit');
  });

  it('places a request of no run by its prompt\'s opening: a shared prefix meets on one replica, others spread', () => {
    const shared = 'You answer from the product manual below.\n'.repeat(40); // > 1 KB
    const place = (body: Record<string, unknown>) => memory.manager.prefixPlacement(body, backend);
    const a = place({ prompt: `${shared}Q: how do I reset it?` });
    expect(a).toBeDefined();
    expect(place({ prompt: [`${shared}Q: where is the fuse?`] })).toBe(a);
    expect(place({ messages: [{ role: 'user', content: [{ type: 'text', text: `${shared}Q: warranty?` }] }] })).toBe(a);
    const spread = new Set(Array.from({ length: 12 }, (_, i) => place({ prompt: `Document ${i}: ${'x'.repeat(i)}` })));
    expect(spread.size).toBeGreaterThan(1);
    expect(place({ prompt: [1, 2, 3] })).toBe(place({ prompt: [1, 2, 3, 4].slice(0, 3) })); // token ids
  });

  it('with memory.affinity off, plans no preferred replica', async () => {
    await callOf('plain', 10);
    const config = validateConfig({ backends: { sim: { engine: 'simulator', urls: engines.map((e) => e.url) } }, memory: { affinity: false, pressure: { interval_ms: 0 } } });
    const off = createMemory(config, new Map([['sim', backend]]));
    try {
      const first = off.manager.plan(identityOf('plain'), backend, 'default', 'm')!;
      off.manager.completed(first, { replica: backend.replicas[0]!, promptTokens: 10, cachedTokens: 0, completionTokens: 0, costUsd: 0, toolCalls: false });
      expect(off.manager.plan(identityOf('plain'), backend, 'default', 'm')!.affinity).toBeUndefined();
      expect(off.manager.prefixPlacement({ prompt: 'any' }, backend)).toBeUndefined();
    } finally {
      off.stop();
    }
  });

  it('leaves the run\'s replica for the least loaded one when it is far above the average (bounded load)', async () => {
    const { replica } = await callOf('busy', 10);
    // Bound with factor 1.5 over 3 replicas: at most 1.5 × (average + 1) in flight on the preferred one.
    const held = await Promise.all(Array.from({ length: 2 }, () => backend.acquire({ ...ticket, affinity: replica })));
    expect(held.every((l) => l.replica === replica)).toBe(true); // within the bound, affinity wins
    const next = await callOf('busy', 10);
    expect(next.replica).not.toBe(replica);
    expect(memory.manager.header(next.plan, next.replica)).toContain('replica=moved');
    for (const l of held) l.release('success');
  });

  it('learns how long tools take, and counts a run waiting on one', async () => {
    expect(memory.manager.toolWait.ttlMs()).toBe(10_000); // no tool seen yet: the prior
    vi.useFakeTimers({ toFake: ['Date'] }); // the tool takes 4 s on the run's clock, in no time
    try {
      vi.setSystemTime(1_000_000);
      await callOf('tool', 10, true);
      expect(memory.manager.store.get('tool')).toMatchObject({ waitingOnTool: true });
      vi.setSystemTime(1_004_000);
      await callOf('tool', 20);
      expect(memory.manager.store.get('tool')).toMatchObject({ waitingOnTool: false });
    } finally {
      vi.useRealTimers();
    }
    expect(memory.manager.toolWait.ttlMs()).toBe(6_000); // the 4 s seen, with 1.5x headroom
  });

  it('under pressure, releases the runs whose next use is farthest away until below the low watermark', async () => {
    // A manager of its own, so that no earlier run is in its ledger.
    const config = validateConfig({
      backends: { sim: { engine: 'simulator', urls: engines.map((e) => e.url), kv_capacity_tokens: 1000 } },
      memory: { pressure: { interval_ms: 0, high: 0.9, low: 0.5 } },
    });
    const fresh = createMemory(config, new Map([['sim', backend]]));
    const target = backend.replicas[0]!;
    const place = (run: string, tokens: number, toolCalls = false) => {
      const plan = fresh.manager.plan(identityOf(run), backend, 'default', 'm')!;
      fresh.manager.completed(plan, { replica: target, promptTokens: tokens, cachedTokens: 0, completionTokens: 0, costUsd: 0, toolCalls });
    };
    const mine = ['waiting', 'idle', 'finished', 'newcomer'];
    const flushed = () => flushedRuns().filter((run) => mine.includes(run));
    try {
      place('waiting', 300, true);
      place('idle', 300);
      place('finished', 250);
      fresh.manager.store.get('finished')!.completedAt = Date.now(); // finished, its release not yet done
      await fresh.pressure.tick(); // (300 + 300 + 250) / 1000 = 85%: below the high watermark
      expect(flushed()).toEqual([]);
      place('newcomer', 100); // 95%
      await fresh.pressure.tick();
      // Needs (0.95 - 0.5) × 1000 = 450 tokens: the finished run (250), then the longest idle one (300).
      expect(flushed()).toEqual(['finished', 'idle']);
    } finally {
      fresh.stop();
    }
  });
});

describe('reclaim order', () => {
  const run = (id: string, over: Partial<RunRecord>): RunRecord =>
    ({ id, inFlight: 0, lastActivity: 0, waitingOnTool: false, resident: { r: 10 }, ...over }) as RunRecord;

  it('finished, then idle (longest first), then waiting on a tool; never a run in flight', () => {
    const order = reclaimOrder(
      [
        run('tool', { waitingOnTool: true, toolWaitSince: 90, lastActivity: 90 }),
        run('idle-recent', { lastActivity: 50 }),
        run('done', { completedAt: 80, lastActivity: 80 }),
        run('idle-old', { lastActivity: 10 }),
        run('busy', { inFlight: 1 }),
        run('elsewhere', { resident: { other: 10 } }),
      ],
      'r',
      100,
      1000,
    );
    expect(order.map((r) => r.id)).toEqual(['done', 'idle-old', 'idle-recent', 'tool']);
  });

  it('treats a tool wait longer than the learned TTL as idleness', () => {
    const order = reclaimOrder([run('idle', { lastActivity: 50 }), run('stuck', { waitingOnTool: true, toolWaitSince: 0, lastActivity: 0 })], 'r', 5000, 1000);
    expect(order.map((r) => r.id)).toEqual(['stuck', 'idle']);
  });
});

describe('the run store', () => {
  it('keeps at most max_runs, handing each evicted run back to be released', () => {
    const ended: string[] = [];
    const store = new MemorySessionStore({ maxRuns: 2, idleTtlMs: 60_000, expired: (run, why) => ended.push(`${run.id}:${why}`) });
    store.touch('a', false, 1);
    store.touch('b', false, 2);
    store.touch('c', false, 3);
    expect(store.size).toBe(2);
    expect(ended).toEqual(['a:evicted']);
    expect(store.list(10).map((r) => r.id)).toEqual(['c', 'b']);
  });
});
