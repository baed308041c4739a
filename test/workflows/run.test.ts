import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Workflow, type StageMap, type WorkflowEvent } from '../../workflows/index.js';
import { startRecordingEngine, type Received, type RecordingEngine } from '../helpers/recording-engine.js';
import { until, within } from '../helpers/wait.js';
import { answer, chatCalls, clientFor, lastMessage, stageOf } from './helpers.js';

// Running a workflow against a recording engine that stands in for the gateway: it sees exactly
// what the library sends, and its answers are scripted per stage.

let engine: RecordingEngine;
beforeEach(async () => {
  engine = await startRecordingEngine();
});
afterEach(() => engine.close());

type Results = Record<string, unknown>;
const user = (content: string) => [{ role: 'user' as const, content }];
const define = (stages: StageMap<string, Results>) => new Workflow<string, Results>('wf', stages);
const completions = () => engine.received.filter((r) => /^\/v1\/workflows\/[^/]+\/complete$/.test(r.url));

/** Answers each stage with its name, except the stages in `hold`, whose responses wait for release. */
function holdStages(hold: string[]) {
  const held: { received: Received; res: ServerResponse }[] = [];
  engine.respondWith((received, res) => {
    const stage = stageOf(received);
    if (stage && hold.includes(stage)) held.push({ received, res });
    else answer(res, { content: `${stage ?? 'none'} answer` });
  });
  return held;
}

describe('running a workflow', () => {
  it('runs the stages whose dependencies are done at the same time', async () => {
    const held = holdStages(['a', 'b']);
    const wf = define({ a: { messages: () => user('a') }, b: { messages: () => user('b') }, c: { after: ['a', 'b'], messages: () => user('c') } });
    const running = wf.run('input', { client: clientFor(engine.url) });

    // Both are in flight at once; c has not been asked yet.
    await until(() => held.length === 2, 'stages a and b at the engine');
    expect(held.map((h) => stageOf(h.received)).sort()).toEqual(['a', 'b']);
    expect(chatCalls(engine.received).map(stageOf)).not.toContain('c');
    for (const h of held) answer(h.res, { content: `${stageOf(h.received)} answer` });

    const result = await running;
    expect(result.status).toBe('done');
    expect(chatCalls(engine.received).map(stageOf).at(-1)).toBe('c');
  });

  it("gives a stage's builders and hints the results of the stages upstream of it", async () => {
    holdStages([]);
    const seen: unknown[] = [];
    const wf = define({
      a: { messages: ({ input }) => user(`a of ${input}`), output: (text) => text.toUpperCase() },
      b: { after: ['a'], messages: ({ result }) => user(`b sees ${String(result('a'))}`) },
      c: {
        after: ['b'],
        // a is upstream through b, so c may read it too.
        messages: ({ result }) => (seen.push(result('a'), result('b')), user('c')),
        priority: ({ result }) => String(result('a')).length,
      },
    });
    const result = await wf.run('input', { client: clientFor(engine.url) });

    expect(result.results).toEqual({ a: 'A ANSWER', b: 'b answer', c: 'c answer' });
    expect(seen).toEqual(['A ANSWER', 'b answer']);
    const [, b, c] = chatCalls(engine.received);
    expect(lastMessage(b!).content).toBe('b sees A ANSWER');
    expect(c!.headers['x-orla-priority']).toBe(String('A ANSWER'.length));
  });

  it('fails a stage that reads a result from outside its upstream, without running it', async () => {
    holdStages([]);
    const wf = define({ a: { messages: () => user('a') }, b: { messages: ({ result }) => user(String(result('a'))) } });
    const result = await wf.run('input', { client: clientFor(engine.url) });
    expect(result.stages.b!.status).toBe('failed');
    expect(result.stages.b!.error).toMatchObject({ kind: 'build', message: expect.stringContaining('b reads the result of a, which is not upstream') });
    expect(chatCalls(engine.received).map(stageOf)).toEqual(['a']);
  });

  it('tags every call with the run, the stage and its hints, and reads back what the gateway reports', async () => {
    engine.respondWith((received, res) =>
      answer(res, {
        content: 'ok',
        headers: { 'x-orla-backend': 'heavy', 'x-orla-queue-ms': '12.5', 'x-orla-cost-usd': '0.0002', 'x-orla-cache': 'preserve (hint)', 'x-request-id': 'req-1' },
      }),
    );
    const wf = define({
      plain: { messages: () => user('p') },
      hinted: { after: ['plain'], messages: () => user('h'), priority: 8, cache: 'preserve' },
    });
    const result = await wf.run('input', { client: clientFor(engine.url), runId: 'ticket-42' });

    const [plain, hinted] = chatCalls(engine.received);
    expect(plain!.headers).toMatchObject({ 'x-orla-workflow-run': 'ticket-42', 'x-orla-stage': 'plain' });
    expect(plain!.headers['x-orla-priority']).toBeUndefined();
    expect(plain!.headers['x-orla-cache']).toBeUndefined();
    expect(hinted!.headers).toMatchObject({ 'x-orla-workflow-run': 'ticket-42', 'x-orla-stage': 'hinted', 'x-orla-priority': '8', 'x-orla-cache': 'preserve' });

    const outcome = result.stages.hinted!;
    expect(outcome.calls[0]).toMatchObject({ backend: 'heavy', queueMs: 12.5, costUsd: 0.0002, cacheAction: 'preserve (hint)', requestId: 'req-1', priority: 8, cacheHint: 'preserve' });
    expect(outcome.tokens).toEqual({ prompt: 10, completion: 2, cached: 4 });
    expect(result.tokens).toEqual({ prompt: 20, completion: 4, cached: 8 });
    expect(result.costUsd).toBeCloseTo(0.0004);
    expect(outcome.finishedMs!).toBeGreaterThanOrEqual(outcome.startedMs!);
  });

  it('skips the dependents of a failed stage, lets the others finish, and completes the run', async () => {
    engine.respondWith((received, res) => {
      if (stageOf(received) === 'broken') {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'engine failed', type: 'upstream_error', code: 'upstream_failed', param: null } }));
      } else answer(res, { content: 'fine' });
    });
    const wf = define({ broken: { messages: () => user('x') }, after_broken: { after: ['broken'], messages: () => user('y') }, other: { messages: () => user('z') } });
    const result = await wf.run('input', { client: clientFor(engine.url), runId: 'r-fail' });

    expect(result.status).toBe('failed');
    expect(result.stages.broken).toMatchObject({ status: 'failed', error: { kind: 'api', status: 502, code: 'upstream_failed' } });
    expect(result.stages.after_broken).toMatchObject({ status: 'skipped', error: { kind: 'dependency' } });
    expect(result.stages.other).toMatchObject({ status: 'done', result: 'fine' });
    expect(completions().map((r) => r.url)).toEqual(['/v1/workflows/r-fail/complete']);
    expect(engine.received.at(-1)!.url).toBe('/v1/workflows/r-fail/complete');
    expect(result.completion).toEqual({ ok: true, status: 200 });
  });

  it('on cancel, aborts the calls in flight, never starts the rest, and completes the run', async () => {
    const held = holdStages(['slow']);
    const cancel = new AbortController();
    const wf = define({ slow: { messages: () => user('s') }, next: { after: ['slow'], messages: () => user('n') } });
    const running = wf.run('input', { client: clientFor(engine.url), runId: 'r-cancel', signal: cancel.signal });
    await until(() => held.length === 1, 'the slow stage at the engine');
    cancel.abort();

    const result = await within(running, 'the cancelled run to end');
    await within(held[0]!.received.aborted, 'the engine to see the client go');
    expect(result.status).toBe('cancelled');
    expect(result.stages.slow!.status).toBe('cancelled');
    expect(result.stages.next!.status).toBe('cancelled');
    expect(chatCalls(engine.received).map(stageOf)).toEqual(['slow']);
    expect(completions().map((r) => r.url)).toEqual(['/v1/workflows/r-cancel/complete']);
  });

  it('completes a run cancelled before it started, without calling any stage', async () => {
    holdStages([]);
    const wf = define({ a: { messages: () => user('a') } });
    const result = await wf.run('input', { client: clientFor(engine.url), runId: 'r-early', signal: AbortSignal.abort() });
    expect(result.status).toBe('cancelled');
    expect(chatCalls(engine.received)).toHaveLength(0);
    expect(completions()).toHaveLength(1);
  });

  it('reports a gateway without the completion endpoint, and the run stays done', async () => {
    engine.respondWith((received, res) => {
      if (received.url.startsWith('/v1/workflows/')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'unknown route', type: 'not_found', code: 'unknown_route', param: null } }));
      } else answer(res, { content: 'ok' });
    });
    const result = await define({ a: { messages: () => user('a') } }).run('input', { client: clientFor(engine.url) });
    expect(result.status).toBe('done');
    expect(result.completion).toMatchObject({ ok: false, status: 404 });
  });

  it('tells its observers what happens, in order, even when one of them throws', async () => {
    holdStages([]);
    const events: WorkflowEvent[] = [];
    const wf = define({ a: { messages: () => user('a') }, b: { after: ['a'], messages: () => user('b') } });
    const result = await wf.run('input', {
      client: clientFor(engine.url),
      onEvent: (e) => {
        events.push(e);
        throw new Error('a broken view');
      },
    });
    expect(result.status).toBe('done');
    expect(events.map((e) => e.type + ('stage' in e ? `:${e.stage}` : ''))).toEqual([
      'run_started',
      'stage_started:a',
      'call_started:a',
      'call_finished:a',
      'stage_finished:a',
      'stage_started:b',
      'call_started:b',
      'call_finished:b',
      'stage_finished:b',
      'run_finished',
    ]);
    expect(new Set(events.map((e) => e.run))).toEqual(new Set([result.run]));
  });
});
