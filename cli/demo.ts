import { existsSync, readFileSync, statSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { TerminalStream } from '../workflows/live-view/index.js';
import { SAMPLE_TICKETS, ticketFromText, type Ticket } from '../workflows/customer-support/tickets.js';

// `orla demo`: the customer-support workflow against a gateway (by default an embedded one with
// simulated engines), shown live. The gateway, the openai client and the demo load only when the
// command runs, so the other commands do not pay for them.

interface DemoFlags {
  gateway?: string;
  ticket?: string;
  tickets?: number;
  speed?: number;
  apiKey?: string;
}

export function demoCommand(io: { out?: TerminalStream } = {}): Command {
  return new Command('demo')
    .description('run the customer-support workflow and watch Orla map, schedule and cache it (no --gateway: an embedded gateway)')
    .option('-g, --gateway <url>', 'an Orla gateway to run against (default: start the embedded one)')
    .option('-t, --ticket <text|file>', 'the ticket to run: its text, or a file holding it (default: the three sample tickets)')
    .option('-n, --tickets <n>', 'tickets to run concurrently, to show priority scheduling (default: 3, or 1 with --ticket)', positiveInteger)
    .option('--speed <x>', 'embedded gateway only: run its simulated engines X times faster than real time', positiveNumber)
    .option('--api-key <key>', 'the gateway\'s API key (default: $ORLA_API_KEY)')
    .action(async (flags: DemoFlags) => {
      process.exitCode = await demo(flags, io.out ?? process.stdout);
    });
}

async function demo(flags: DemoFlags, out: TerminalStream): Promise<number> {
  const embedded = flags.gateway === undefined;
  const tickets = chooseTickets(flags, embedded);
  if (typeof tickets === 'string') {
    process.stderr.write(`orla demo: ${tickets}\n`);
    return 2;
  }
  const [{ default: OpenAI }, { runDemo }] = await Promise.all([import('openai'), import('../workflows/customer-support/demo.js')]);
  const gateway = embedded ? await startEmbedded(flags.speed) : { url: normalize(flags.gateway!), title: 'gateway', stages: [], close: async () => {} };
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    if (!embedded && !(await reachable(gateway.url))) return 1;
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: flags.apiKey ?? process.env.ORLA_API_KEY ?? 'unused' });
    const title = [
      `orla demo · customer-support · ${tickets.length} ticket${tickets.length === 1 ? '' : 's'} · ${gateway.title} ${gateway.url}`,
      ...gateway.stages,
      ...(embedded && tickets.some((t) => t.scriptedClassification)
        ? ['  (the sample tickets script the simulated classifier with [[sim:answer …]], so both paths show; a real model classifies them itself)']
        : []),
    ];
    const { runs } = await runDemo({ client, tickets, out, title, signal: abort.signal });
    return runs.every((r) => r.status === 'done') ? 0 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    await gateway.close();
  }
}

/** --ticket (text or file) N times, or the samples in turn; a remote gateway's model classifies for real. */
function chooseTickets(flags: DemoFlags, embedded: boolean): Ticket[] | string {
  if (flags.ticket !== undefined) {
    const isFile = existsSync(flags.ticket) && statSync(flags.ticket).isFile();
    const text = isFile ? readFileSync(flags.ticket, 'utf8') : flags.ticket;
    if (text.trim() === '') return `the ticket ${isFile ? `in ${flags.ticket} ` : ''}is empty`;
    return Array.from({ length: flags.tickets ?? 1 }, () => ticketFromText(text, 'ticket'));
  }
  return Array.from({ length: flags.tickets ?? SAMPLE_TICKETS.length }, (_, i) => {
    const { scriptedClassification, ...ticket } = SAMPLE_TICKETS[i % SAMPLE_TICKETS.length]!;
    return embedded && scriptedClassification ? { ...ticket, scriptedClassification } : ticket;
  });
}

async function startEmbedded(speed: number | undefined) {
  const [{ startGateway }, { defaultConfig }, { pino }] = await Promise.all([
    import('../gateway/server.js'),
    import('../config/defaults.js'),
    import('pino'),
  ]);
  const config = defaultConfig({ port: 0 });
  for (const backend of Object.values(config.backends)) if (speed !== undefined && backend.engine === 'simulator') backend.speed = speed;
  // Logs would tear the live view; the demo shows what matters itself.
  const gateway = await startGateway(config, { log: pino({ level: 'silent' }) });
  const stages = Object.entries(config.stages)
    .filter(([name]) => name !== 'default')
    .map(([name, s]) => `${name} → ${s.backend ?? `mapper ${s.mapper}`} (${s.model ?? 'client model'})`);
  return {
    url: gateway.url,
    title: 'embedded gateway',
    stages: [`  simulated engines${speed ? ` at ${speed}× real time` : ''}; stages: ${stages.join(' · ')}`],
    close: () => gateway.close(),
  };
}

/** `http://host:8080/v1/` and `http://host:8080` name the same gateway. */
function normalize(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '');
}

async function reachable(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
    return true;
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, bad port, …) is in its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (err as Error).message;
    process.stderr.write(`orla demo: cannot reach the gateway at ${url} (${reason})\n`);
    return false;
  }
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}
