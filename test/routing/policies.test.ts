import { describe, expect, it } from 'vitest';
import { fairStage } from '../../routing/scheduler/policies/fair.js';
import { fcfsRequest, fcfsStage } from '../../routing/scheduler/policies/fcfs.js';
import { priorityRequest, priorityStage } from '../../routing/scheduler/policies/priority.js';
import { runFairStage } from '../../routing/scheduler/policies/run-fair.js';
import { sjfRequest, sjfStage } from '../../routing/scheduler/policies/sjf.js';
import type { PickContext, StageQueueView, Waiting } from '../../routing/scheduler/types.js';

let seq = 0;
const w = (over: Partial<Waiting> = {}): Waiting => ({ seq: seq++, stage: 's', run: undefined, priority: 0, promptTokens: 100, enqueuedAt: 0, ...over });
const context = (over: Partial<PickContext> = {}): PickContext => ({ now: 0, agingMs: 1000, attainedService: () => 0, ...over });
const stage = (name: string, waiting: Waiting[], weight = 1): StageQueueView => ({ stage: name, waiting, weight });

describe('request schedulers', () => {
  it('fcfs takes the oldest', () => {
    expect(fcfsRequest.pick([w(), w()], context())).toBe(0);
  });

  it('priority takes the highest, the oldest among equals', () => {
    const queue = [w({ priority: 1 }), w({ priority: 8 }), w({ priority: 8 })];
    expect(priorityRequest.pick(queue, context())).toBe(1);
  });

  it('priority ages: a request that waited long enough passes a newer, higher one', () => {
    const old = w({ priority: 1, enqueuedAt: 0 });
    expect(priorityRequest.pick([old, w({ priority: 5, enqueuedAt: 2_000 })], context({ now: 2_000 }))).toBe(1); // 1 + 2 < 5
    expect(priorityRequest.pick([old, w({ priority: 5, enqueuedAt: 9_000 })], context({ now: 9_000 }))).toBe(0); // 1 + 9 > 5
  });

  it('sjf takes the shortest prompt, and a long one that waited catches up', () => {
    const queue = [w({ promptTokens: 1000, enqueuedAt: 0 }), w({ promptTokens: 300, enqueuedAt: 10_000 })];
    expect(sjfRequest.pick(queue, context({ now: 10_000, agingMs: 1e9 }))).toBe(1);
    expect(sjfRequest.pick(queue, context({ now: 10_000, agingMs: 1000 }))).toBe(0); // 1000 / 11 < 300
  });
});

describe('stage schedulers', () => {
  it('fcfs serves the stage whose head came first', () => {
    const a = stage('a', [w({ seq: 10 })]);
    const b = stage('b', [w({ seq: 3 }), w({ seq: 20 })]);
    expect(fcfsStage.pick([a, b], context())).toBe(1);
  });

  it('priority serves the stage holding the highest waiting priority', () => {
    const bulk = stage('bulk', [w({ priority: 5 }), w({ priority: 5 })]);
    const reply = stage('reply', [w({ priority: 8 })]);
    expect(priorityStage.pick([bulk, reply], context())).toBe(1);
  });

  it('sjf serves the stage holding the shortest job', () => {
    expect(sjfStage.pick([stage('a', [w({ promptTokens: 900 })]), stage('b', [w({ promptTokens: 50 })])], context())).toBe(1);
  });

  it('fair interleaves stages by weight', () => {
    const policy = fairStage();
    const stages = [stage('a', [w()], 2), stage('b', [w()], 1)];
    const order = Array.from({ length: 6 }, () => stages[policy.pick(stages, context())]!.stage);
    expect(order).toEqual(['a', 'b', 'a', 'a', 'b', 'a']);
  });

  it('run-fair serves the run with the least service so far', () => {
    const served: Record<string, number> = { long: 50_000, short: 200 };
    const ctx = context({ attainedService: (run) => served[run ?? ''] ?? 0 });
    const stages = [stage('a', [w({ run: 'long' })]), stage('b', [w({ run: 'short' })])];
    expect(runFairStage.pick(stages, ctx)).toBe(1);
    served.short = 90_000;
    expect(runFairStage.pick(stages, ctx)).toBe(0);
  });

  it('run-fair ages: a request of a served run that waited aging_ms goes before new runs', () => {
    const served: Record<string, number> = { old: 50_000 };
    const waitingOld = stage('a', [w({ run: 'old', enqueuedAt: 0 })]);
    const newRun = stage('b', [w({ run: 'new', enqueuedAt: 900 })]);
    const at = (now: number) => runFairStage.pick([waitingOld, newRun], context({ now, agingMs: 1000, attainedService: (run) => served[run ?? ''] ?? 0 }));
    expect(at(999)).toBe(1); // not yet aged: the least served run first
    expect(at(1000)).toBe(0); // aged: it goes first, whatever its run was served
  });
});
