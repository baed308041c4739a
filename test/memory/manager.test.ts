import { describe, expect, it } from 'vitest';
import { reclaimOrder } from '../../memory/reclaim.js';
import type { RunRecord } from '../../state.js';
import { setup } from './harness.js';

// Memory's rules on their own, driven by hand (harness.ts).

const HEAVY = 'http://heavy.test';

describe('the memory manager', () => {
  it("plans the run's replica as its affinity on the backend that holds its prefix, and says where a call landed", async () => {
    const { begin, end, memory } = await setup();
    const first = await begin('aff', 'a');
    expect(first.plan.affinity).toBeUndefined();
    expect(memory.header(first.plan, HEAVY)).toContain('replica=new');
    await end(first, 10);
    const again = await begin('aff', 'a');
    expect(again.plan.affinity).toBe(HEAVY);
    expect(memory.header(again.plan, HEAVY)).toContain('replica=hit');
    expect(memory.header(again.plan, 'http://elsewhere.test')).toContain('replica=moved');
    const elsewhere = await begin('aff', 'classify'); // another backend: no affinity there
    expect(elsewhere.plan.affinity).toBeUndefined();
  });

  it('records a move off the warm replica in the run', async () => {
    const { begin, end, runs } = await setup({ backends: { heavy: { engine: 'simulator', urls: [HEAVY, 'http://other.test'] } } });
    await end(await begin('m', 'a'), 10);
    await end(await begin('m', 'a'), 20, { replica: 'http://other.test' });
    expect((await runs.get('m'))!.cacheActions).toMatchObject([{ action: 'affinity_move', replica: 'http://other.test', detail: `from ${HEAVY}` }]);
  });

  it('with memory.affinity off, plans no preferred replica', async () => {
    const { begin, end } = await setup({ memory: { affinity: false } });
    await end(await begin('plain', 'a'), 10);
    expect((await begin('plain', 'a')).plan.affinity).toBeUndefined();
  });

  it('learns how long tools take, and counts a run waiting on one', async () => {
    const { begin, end, runs, memory, clock } = await setup();
    await end(await begin('tool', 'a'), 10, { toolCalls: true });
    expect((await runs.get('tool'))!.toolWaitSince).toBe(clock.now);
    const before = memory.toolWait.ttlMs();
    clock.now += 40_000; // the tool took 40 s
    await end(await begin('tool', 'a'), 20);
    expect((await runs.get('tool'))!.toolWaitSince).toBeUndefined();
    expect(memory.toolWait.ttlMs()).toBe(60_000); // 1.5 × the one sample, no longer the 10 s of no samples
    expect(before).toBe(10_000);
  });

  it('under pressure, releases the runs whose next use is farthest away until below the low watermark', async () => {
    const { begin, end, complete, memory, log, settle } = await setup();
    await end(await begin('waiting', 'a'), 300, { toolCalls: true });
    await end(await begin('idle', 'a'), 300);
    await end(await begin('finished', 'a'), 250);
    await complete('finished');
    await settle();
    log.length = 0; // the finished run's own release
    await memory.pressure.tick(); // the finished run's tokens left with it: 600 / 1000, below the high watermark
    expect(log).toEqual([]);
    await end(await begin('big', 'a'), 350); // 95%
    await memory.pressure.tick();
    // Needs (0.95 - 0.5) × 1000 = 450 tokens: the longest idle run (300), then the next (big, 350).
    expect(log).toEqual([`idle@${HEAVY}`, `big@${HEAVY}`]);
  });
});

describe('reclaim order', () => {
  const run = (id: string, over: Partial<RunRecord>): RunRecord => ({ id, inFlight: 0, lastActivity: 0, resident: { r: 10 }, ...over }) as RunRecord;

  it('finished, then idle (longest first), then waiting on a tool; never a run in flight', () => {
    const order = reclaimOrder(
      [
        run('tool', { toolWaitSince: 90, lastActivity: 90 }),
        run('idle-recent', { lastActivity: 50 }),
        run('done', { completed: { at: 80, by: 'client' }, lastActivity: 80 }),
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
    const order = reclaimOrder([run('idle', { lastActivity: 50 }), run('stuck', { toolWaitSince: 0, lastActivity: 0 })], 'r', 5000, 1000);
    expect(order.map((r) => r.id)).toEqual(['stuck', 'idle']);
  });
});
