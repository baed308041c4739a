import { describe, expect, it } from 'vitest';
import type { WorkflowEvent } from '../../workflows/index.js';
import { Board, LiveView, renderFrame } from '../../workflows/live-view/index.js';
import { fit, paint, visibleLength } from '../../workflows/live-view/style.js';
import type { CallRecord, StageOutcome } from '../../workflows/types.js';
import { CapturedOutput, replayTerminal } from './helpers.js';

// The live view folds workflow events into a board and draws it: in place on a TTY, as plain
// lines elsewhere. The events here are scripted; the demo test runs real ones.

const tokens = { prompt: 100, completion: 20, cached: 64 };
const call = (turn: number, extra: Partial<CallRecord> = {}): CallRecord => ({
  turn, model: 'Qwen/Qwen3-8B', backend: 'heavy', queueMs: 3, tokens, durationMs: 40, finishReason: 'stop', toolCalls: [], ...extra,
});
const outcome = (name: string, extra: Partial<StageOutcome> = {}): StageOutcome => ({
  name, status: 'done', after: [], calls: [], tools: [], tokens, startedMs: 0, finishedMs: 50, ...extra,
});

/** One run of classify → reply, with a tool call in reply; `label` names it in the view. */
function script(run: string): WorkflowEvent[] {
  const at = 0;
  return [
    { type: 'run_started', run, at, workflow: 'support', stages: [{ name: 'classify', after: [] }, { name: 'reply', after: ['classify'] }], layers: [['classify'], ['reply']] },
    { type: 'stage_started', run, at, stage: 'classify' },
    { type: 'call_started', run, at, stage: 'classify', turn: 0 },
    { type: 'call_finished', run, at, stage: 'classify', call: call(0, { backend: 'light', model: 'Qwen/Qwen3-4B' }) },
    { type: 'stage_finished', run, at: 50, stage: 'classify', outcome: outcome('classify', { result: { category: 'billing' } }) },
    { type: 'stage_started', run, at: 50, stage: 'reply', priority: 8, cache: 'flush' },
    { type: 'call_finished', run, at, stage: 'reply', call: call(0, { toolCalls: ['send_email'], cacheAction: 'flush (hint)', costUsd: 0.0001 }) },
    { type: 'tool_started', run, at, stage: 'reply', id: 'c1', name: 'send_email', args: '{"to":"maya@example.com"}' },
    { type: 'tool_finished', run, at, stage: 'reply', tool: { id: 'c1', turn: 0, name: 'send_email', args: '{"to":"maya@example.com"}', ok: true, output: 'ok', durationMs: 1 } },
    { type: 'stage_finished', run, at: 120, stage: 'reply', outcome: outcome('reply', { result: 'Refund on its way.', after: ['classify'], startedMs: 50, finishedMs: 120 }) },
    {
      type: 'run_finished', run, at: 121,
      result: { run, workflow: 'support', status: 'done', results: {}, stages: {}, tokens, costUsd: 0.0001, durationMs: 121, completion: { ok: true, status: 200 } },
    },
  ];
}

const describeResult = (stage: string, result: unknown) => (stage === 'classify' ? `category ${(result as { category: string }).category}` : String(result));

describe('the board', () => {
  it('follows each stage from pending to done, with its backend, hints, tokens and tool calls', () => {
    const board = new Board(describeResult);
    board.label('r1', 'double-charge');
    const events = script('r1');
    for (const e of events.slice(0, 6)) board.apply(e);
    const reply = () => board.run('r1')!.stages[1]!;
    expect(board.run('r1')).toMatchObject({ label: 'double-charge', status: 'running' });
    expect(board.run('r1')!.stages[0]).toMatchObject({ status: 'done', backend: 'light', model: 'Qwen/Qwen3-4B', note: 'category billing', queueMs: 3 });
    expect(reply()).toMatchObject({ status: 'running', priority: 8, cacheHint: 'flush' });

    board.apply(events[6]!);
    board.apply(events[7]!);
    expect(reply().tools).toEqual([{ id: 'c1', name: 'send_email', args: '{"to":"maya@example.com"}', state: 'running' }]);
    for (const e of events.slice(8)) board.apply(e);
    expect(reply()).toMatchObject({ status: 'done', cacheAction: 'flush (hint)', costUsd: 0.0001, note: 'Refund on its way.', calls: 1 });
    expect(reply().tools[0]!.state).toBe('ok');
    expect(board.run('r1')).toMatchObject({ status: 'done', durationMs: 121, completion: { ok: true } });
  });
});

describe('the frame', () => {
  const board = new Board(describeResult);
  for (const run of ['r1', 'r2', 'r3']) for (const e of script(run)) board.apply(e);
  const p = paint(false);

  it('shows the DAG, each stage with its facts, the tool calls and the results', () => {
    const frame = renderFrame(board, p).join('\n');
    expect(frame).toContain('classify → reply');
    expect(frame).toMatch(/✓ reply +heavy Qwen\/Qwen3-8B · prio 8 · cache flush → flush \(hint\) · 1 call · queue 3ms · 120 tok \(64 cached\) · \$0\.00010 · 70ms/);
    expect(frame).toContain('↳ send_email {"to":"maya@example.com"} ✓ 1ms');
    expect(frame).toContain('→ category billing');
  });

  it('shrinks to what fits the terminal: a line per stage, then a line per run, then a cut', () => {
    const full = renderFrame(board, p).length;
    const perStage = renderFrame(board, p, full);
    expect(perStage.length).toBeLessThan(full);
    expect(perStage.join('\n')).toContain('send_email✓');
    const perRun = renderFrame(board, p, perStage.length);
    expect(perRun).toHaveLength(3);
    expect(renderFrame(board, p, 3)).toEqual([perRun[0], '… and 2 more runs']);
  });

  it('cuts a line to the width without breaking its colours', () => {
    const coloured = paint(true).green('abcdefghij');
    const cut = fit(coloured, 5);
    expect(visibleLength(cut)).toBe(5);
    expect(cut.endsWith('\u001b[0m')).toBe(true);
    expect(fit('short', 10)).toBe('short');
  });
});

describe('the live view', () => {
  it('redraws in place on a TTY: the screen ends with one frame and the summary', () => {
    const out = new CapturedOutput(true, 120, 40);
    const view = new LiveView({ out, describe: describeResult });
    view.note(['orla demo']);
    for (const e of script('r1')) {
      view.listener(e);
      view.redraw();
    }
    view.finish();

    expect(out.text).toMatch(/\u001b\[\d+F\u001b\[J/);
    const screen = replayTerminal(out.text).join('\n').replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    expect(screen.match(/classify → reply/g)).toHaveLength(1);
    expect(screen.match(/^orla demo$/gm)).toHaveLength(1);
    expect(screen).toContain('✓ reply');
    expect(screen.indexOf('summary')).toBeGreaterThan(screen.indexOf('✓ reply'));
  });

  it('prints one plain line per event without a TTY, and no escape codes', () => {
    const out = new CapturedOutput(false);
    const view = new LiveView({ out, describe: describeResult });
    view.board.label('r1', 'double-charge');
    for (const e of script('r1')) view.listener(e);
    view.finish();

    expect(out.text).not.toContain('\u001b');
    const lines = out.text.split('\n');
    const at = (text: string) => lines.findIndex((l) => l.includes(text));
    expect(at('run r1 started: classify → reply')).toBeGreaterThanOrEqual(0);
    expect(lines[at('↳ send_email')]).toMatch(/double-charge +reply +↳ send_email/);
    expect(at('reply         done in 70ms: Refund on its way.')).toBeGreaterThan(at('↳ send_email'));
    expect(at('run done in 121ms')).toBeGreaterThan(at('done in 70ms'));
    expect(out.text).toContain('1 run (1 done)');
    expect(out.text).toContain('queue wait by priority: prio 8: 3ms');
    expect(out.text).toContain('every run completed on the gateway');
  });
});
