import type { WorkflowEvent } from '../events.js';
import type { Board } from './board.js';
import { dagLine, runStatusText, shorten, toolLine } from './render.js';
import { formatMs, formatTokens, formatUsd, padEnd, type Paint } from './style.js';

// The view without a TTY (a pipe, a CI log): one line per event, in the order they happen, so the
// tool calls of parallel stages and runs show as they interleave.

/** The line for an event, or undefined for events not worth a line (a call starting). Apply the event to `board` first. */
export function eventLine(event: WorkflowEvent, board: Board, p: Paint, clockMs: number): string | undefined {
  const run = board.run(event.run);
  const prefix = (stage = '') => `${p.dim(formatMs(clockMs).padStart(7))} ${padEnd(run?.label ?? event.run, 20)} ${padEnd(stage, 14)}`;
  switch (event.type) {
    case 'run_started':
      return `${prefix()}run ${event.run} started: ${dagLine(event.layers)}`;
    case 'stage_started': {
      const hints = [event.priority !== undefined ? `prio ${event.priority}` : '', event.cache ? `cache ${event.cache}` : ''].filter(Boolean);
      return `${prefix(event.stage)}started${hints.length ? ` · ${hints.join(' · ')}` : ''}`;
    }
    case 'call_started':
    case 'tool_started':
      return undefined;
    case 'call_finished': {
      const c = event.call;
      const fields = [
        `turn ${c.turn + 1} → ${[c.backend, c.model].filter(Boolean).join(' ')}`,
        ...(c.queueMs !== undefined ? [`queue ${formatMs(c.queueMs)}`] : []),
        ...(c.cacheAction ? [`cache ${c.cacheAction}`] : []),
        `${formatTokens(c.tokens.prompt + c.tokens.completion)} tok${c.tokens.cached ? ` (${formatTokens(c.tokens.cached)} cached)` : ''}`,
        ...(c.costUsd !== undefined ? [formatUsd(c.costUsd)] : []),
        formatMs(c.durationMs),
        ...(c.toolCalls.length ? [`asks for ${c.toolCalls.join(', ')}`] : []),
      ];
      return `${prefix(event.stage)}${fields.join(' · ')}`;
    }
    case 'tool_finished':
      return `${prefix(event.stage)}${toolLine({ ...event.tool, state: event.tool.ok ? 'ok' : 'error' }, p)}`;
    case 'stage_finished': {
      const o = event.outcome;
      const took = o.startedMs !== undefined && o.finishedMs !== undefined ? ` in ${formatMs(o.finishedMs - o.startedMs)}` : '';
      const note = run?.stages.find((s) => s.name === event.stage)?.note;
      return `${prefix(event.stage)}${o.status}${took}${note ? `: ${shorten(note, 100)}` : ''}`;
    }
    case 'run_finished': {
      const c = event.result.completion;
      const completion = c.ok ? 'completed on the gateway' : `not completed on the gateway (${c.status ?? c.message ?? 'error'})`;
      return run ? `${prefix()}run ${runStatusText(run, p)} · ${completion}` : undefined;
    }
  }
}
