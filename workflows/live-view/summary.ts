import type { Board, StageView } from './board.js';
import { runStatusText } from './render.js';
import { formatMs, formatTokens, formatUsd, padEnd, type Paint } from './style.js';

// The summary printed when every run is over: totals, each run, each stage across runs, the queue
// wait by priority (where a priority scheduler shows), and whether the gateway released the runs.

const average = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);

export function renderSummary(board: Board, p: Paint, wallMs: number): string[] {
  const runs = board.runs;
  const stages = runs.flatMap((r) => r.stages);
  const count = (status: string) => runs.filter((r) => r.status === status).length;
  const tokens = runs.reduce((n, r) => n + r.tokens.prompt + r.tokens.completion, 0);
  const cached = runs.reduce((n, r) => n + r.tokens.cached, 0);
  const costs = runs.flatMap((r) => (r.costUsd === undefined ? [] : [r.costUsd]));
  const calls = stages.reduce((n, s) => n + s.calls, 0);
  const tools = stages.reduce((n, s) => n + s.tools.length, 0);

  const outcome = [`${count('done')} done`, ...(count('failed') ? [p.red(`${count('failed')} failed`)] : []), ...(count('cancelled') ? [p.yellow(`${count('cancelled')} cancelled`)] : [])];
  const lines = [
    p.bold('summary'),
    `  ${runs.length} run${runs.length === 1 ? '' : 's'} (${outcome.join(', ')}) in ${formatMs(wallMs)} · ${calls} model calls · ${tools} tool calls · ` +
      `${formatTokens(tokens)} tokens (${formatTokens(cached)} prompt tokens cached)${costs.length ? ` · ${formatUsd(costs.reduce((a, b) => a + b, 0))}` : ''}`,
    ...runs.map((r) => `  ${padEnd(p.bold(r.label), 22)}${runStatusText(r, p)}  ${p.dim(r.run)}`),
    '',
    `  ${p.dim(padEnd('stage', 16) + padEnd('backend', 10) + padEnd('avg time', 10) + padEnd('avg queue', 11) + 'tokens')}`,
  ];
  for (const name of [...new Set(stages.map((s) => s.name))]) {
    const same = stages.filter((s) => s.name === name && s.startedMs !== undefined && s.finishedMs !== undefined);
    if (same.length === 0) continue;
    const backends = [...new Set(same.map((s) => s.backend).filter(Boolean))].join(',') || '-';
    const time = average(same.map((s) => s.finishedMs! - s.startedMs!));
    const queue = same.some((s) => s.queueReported) ? formatMs(average(same.map((s) => s.queueMs))) : '-';
    const tok = same.reduce((n, s) => n + s.tokens.prompt + s.tokens.completion, 0);
    lines.push(`  ${padEnd(name, 16)}${padEnd(backends, 10)}${padEnd(formatMs(time), 10)}${padEnd(queue, 11)}${formatTokens(tok)}`);
  }
  lines.push(...priorityLines(stages), ...completionLines(board, p));
  return lines;
}

/** Queue wait by priority: under a priority scheduler the higher priorities wait less. */
function priorityLines(stages: StageView[]): string[] {
  const byPriority = new Map<number, StageView[]>();
  for (const s of stages) {
    if (s.priority === undefined || !s.queueReported) continue;
    byPriority.set(s.priority, [...(byPriority.get(s.priority) ?? []), s]);
  }
  if (byPriority.size === 0) return [];
  const parts = [...byPriority.entries()]
    .sort(([a], [b]) => b - a)
    .map(([priority, list]) => `prio ${priority}: ${formatMs(average(list.map((s) => s.queueMs)))} (${list.length} stage${list.length === 1 ? '' : 's'})`);
  return [`  queue wait by priority: ${parts.join(' · ')}`];
}

function completionLines(board: Board, p: Paint): string[] {
  const completions = board.runs.flatMap((r) => (r.completion ? [r.completion] : []));
  if (completions.length === 0) return [];
  const ok = completions.filter((c) => c.ok).length;
  if (ok === completions.length) return [`  ${p.green('✓')} every run completed on the gateway (its cache released)`];
  const missing = completions.filter((c) => c.status === 404).length;
  if (missing === completions.length) return [`  ${p.dim('the gateway has no completion endpoint (404): it releases each run at its idle timeout')}`];
  const failed = completions.find((c) => !c.ok);
  return [`  ${p.yellow('!')} ${completions.length - ok} of ${completions.length} runs not completed on the gateway: ${failed?.message ?? 'unknown error'}`];
}
