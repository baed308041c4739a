import { randomUUID } from 'node:crypto';
import type { OpenAI } from 'openai';
import { LiveView, type TerminalStream } from '../live-view/index.js';
import type { RunResult } from '../types.js';
import { ServiceDesk } from './desk.js';
import type { Classification, PolicyDecision } from './schemas.js';
import type { Ticket } from './tickets.js';
import { customerSupportWorkflow, type SupportResults } from './workflow.js';

// `orla demo`: tickets run concurrently through the customer-support workflow, watched live.

export interface DemoOptions {
  client: OpenAI;
  tickets: readonly Ticket[];
  out: TerminalStream;
  /** Lines shown above the live view. */
  title?: string[];
  /** Redraw in place; default: whether `out` is a TTY. */
  live?: boolean;
  signal?: AbortSignal;
}

export interface DemoResult {
  runs: RunResult<SupportResults>[];
  desk: ServiceDesk;
}

/** One line about a stage's result, for the view. */
export function describeSupportResult(stage: string, result: unknown): string | undefined {
  if (stage === 'classify') {
    const c = result as Classification;
    return `${c.category} · ${c.product} · ${c.needs_escalation ? `escalate: ${c.escalation_reason}` : 'no escalation'}`;
  }
  if (stage === 'policy_check') {
    const d = result as PolicyDecision;
    return `${d.decision} (${d.applicable_policy}): ${d.reasoning}`;
  }
  return typeof result === 'string' ? result : undefined;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const desk = new ServiceDesk();
  const workflow = customerSupportWorkflow(desk);
  const view = new LiveView({ out: options.out, describe: describeSupportResult, ...(options.live !== undefined ? { live: options.live } : {}) });
  if (options.title) view.note([...options.title, '']);

  const seen = new Map<string, number>();
  const runs = await Promise.all(
    options.tickets.map((ticket, i) => {
      const n = (seen.get(ticket.id) ?? 0) + 1;
      seen.set(ticket.id, n);
      const runId = `support-${i + 1}-${randomUUID().slice(0, 8)}`;
      view.board.label(runId, n === 1 ? ticket.id : `${ticket.id}#${n}`);
      return workflow.run(ticket, { client: options.client, runId, onEvent: view.listener, ...(options.signal ? { signal: options.signal } : {}) });
    }),
  );
  view.finish();
  options.out.write(deskLines(desk, view).join('\n') + '\n');
  return { runs, desk };
}

/** What the agents did in the world: the tickets they filed and the emails they sent. */
function deskLines(desk: ServiceDesk, view: LiveView): string[] {
  const p = view.paint;
  const label = (run: string) => view.board.run(run)?.label ?? run;
  return [
    '',
    p.bold('service desk'),
    ...desk.tickets.map((t) => `  ${t.id} → ${t.team} · priority ${t.priority} · ${label(t.run)}`),
    `  ${desk.emails.length} email${desk.emails.length === 1 ? '' : 's'} sent` +
      (desk.emails.length ? `: ${desk.emails.map((e) => `${label(e.run)}/${e.stage} → ${e.to}`).join(', ')}` : ''),
  ];
}
