import type { Board, RunView, StageView, ToolView } from './board.js';
import { formatMs, formatTokens, formatUsd, padEnd, type Paint } from './style.js';

// The live frame: per run, the DAG, each stage's state, backend, model, hints, queue wait,
// tokens, cost and timing, its tool calls and a line about its result. When the detailed frame is
// taller than the terminal, one line per run.

const NAME_WIDTH = 14;

export function dagLine(layers: readonly (readonly string[])[]): string {
  return layers.map((layer) => layer.join(' ∥ ')).join(' → ');
}

export function stageIcon(stage: Pick<StageView, 'status'>, p: Paint): string {
  switch (stage.status) {
    case 'pending':
      return p.dim('○');
    case 'running':
      return p.cyan('◐');
    case 'done':
      return p.green('✓');
    case 'failed':
      return p.red('✗');
    case 'skipped':
      return p.dim('–');
    case 'cancelled':
      return p.yellow('⊘');
  }
}

export function runStatusText(run: RunView, p: Paint): string {
  if (run.status === 'running') return p.cyan('running');
  const status = run.status === 'done' ? p.green('done') : run.status === 'failed' ? p.red('failed') : p.yellow('cancelled');
  const cost = run.costUsd === undefined ? '' : ` · ${formatUsd(run.costUsd)}`;
  return `${status} in ${formatMs(run.durationMs ?? 0)} · ${formatTokens(run.tokens.prompt + run.tokens.completion)} tok${cost}`;
}

export function runHeadline(run: RunView, p: Paint): string {
  return `${p.bold(run.label)}  ${p.dim(`run ${run.run}`)}  ${runStatusText(run, p)}`;
}

/** The facts known about a stage, as ` · `-separated fields. */
export function stageFacts(stage: StageView, p: Paint): string {
  const fields: string[] = [];
  if (stage.status === 'pending') {
    return p.dim(stage.after.length > 0 ? `waiting for ${stage.after.join(', ')}` : 'ready');
  }
  if (stage.backend || stage.model) fields.push([stage.backend, stage.model].filter(Boolean).join(' '));
  if (stage.priority !== undefined) fields.push(`prio ${stage.priority}`);
  if (stage.cacheHint || stage.cacheAction) fields.push(`cache ${[stage.cacheHint, stage.cacheAction].filter(Boolean).join(' → ')}`);
  if (stage.status === 'running') fields.push(stage.calling ? `turn ${stage.calls + 1} …` : `turn ${stage.calls}`);
  else if (stage.calls > 0) fields.push(`${stage.calls} call${stage.calls === 1 ? '' : 's'}`);
  if (stage.queueReported) fields.push(`queue ${formatMs(stage.queueMs)}`);
  const total = stage.tokens.prompt + stage.tokens.completion;
  if (total > 0) fields.push(`${formatTokens(total)} tok${stage.tokens.cached > 0 ? ` (${formatTokens(stage.tokens.cached)} cached)` : ''}`);
  if (stage.costUsd !== undefined) fields.push(formatUsd(stage.costUsd));
  if (stage.finishedMs !== undefined && stage.startedMs !== undefined) fields.push(formatMs(stage.finishedMs - stage.startedMs));
  return fields.join(p.dim(' · '));
}

export function toolLine(tool: ToolView, p: Paint): string {
  const state = tool.state === 'running' ? p.cyan('…') : tool.state === 'ok' ? p.green('✓') : p.red('✗');
  const time = tool.durationMs === undefined ? '' : ` ${p.dim(formatMs(tool.durationMs))}`;
  return `${p.dim('↳')} ${tool.name} ${p.dim(shorten(tool.args, 60))} ${state}${time}`;
}

export function shorten(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** `full`: a line per tool call and about each result; `stages`: a line per stage, its tools inline. */
type Detail = 'full' | 'stages';

function runBlock(run: RunView, p: Paint, detail: Detail): string[] {
  const lines = [runHeadline(run, p), `  ${p.dim(dagLine(run.layers))}`];
  for (const stage of run.stages) {
    const line = `  ${stageIcon(stage, p)} ${padEnd(stage.name, NAME_WIDTH)}${stageFacts(stage, p)}`;
    if (detail === 'stages') {
      const tools = stage.tools.map((t) => `${t.name}${t.state === 'running' ? p.cyan('…') : t.state === 'ok' ? p.green('✓') : p.red('✗')}`);
      const note = stage.note ? ` ${stage.status === 'done' ? p.dim('→') : p.red('!')} ${shorten(stage.note, 100)}` : '';
      lines.push(`${line}${tools.length ? `${p.dim(' · ↳ ')}${tools.join(' ')}` : ''}${note}`);
      continue;
    }
    lines.push(line);
    for (const tool of stage.tools) lines.push(`      ${toolLine(tool, p)}`);
    if (stage.note) lines.push(`      ${stage.status === 'done' ? p.dim('→') : p.red('!')} ${shorten(stage.note, 100)}`);
  }
  return lines;
}

function compactLine(run: RunView, p: Paint): string {
  const stages = run.stages.map((s) => `${stageIcon(s, p)} ${s.name}`).join('  ');
  return `${padEnd(p.bold(run.label), 22)} ${stages}  ${run.status === 'running' ? '' : runStatusText(run, p)}`;
}

/**
 * The frame for a terminal of `rows` lines: the most detail that fits, down to one line per run.
 * It must fit: the redraw cannot move the cursor above the top of the screen.
 */
export function renderFrame(board: Board, p: Paint, rows = Number.POSITIVE_INFINITY): string[] {
  for (const detail of ['full', 'stages'] as const) {
    const frame = board.runs.flatMap((run, i) => [...(i > 0 ? [''] : []), ...runBlock(run, p, detail)]);
    if (frame.length < rows) return frame;
  }
  const compact = board.runs.map((run) => compactLine(run, p));
  if (compact.length < rows) return compact;
  const shown = Math.max(0, rows - 2);
  return [...compact.slice(0, shown), p.dim(`… and ${compact.length - shown} more runs`)];
}
