import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { json } from './recording-engine.js';
import { within } from './wait.js';

// A fleet under test: `orla serve` processes (from the sources, through tsx) in front of engines
// that record what they see: which run each request belongs to, how many were in flight at once,
// and every release of a run.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** How long a gateway process may take to start: generous, inside the runner's hook timeout. */
const START_MS = 15_000;

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** What it printed (for a failing test's message). */
  output(): string;
  /** SIGKILL: the gateway dies without leaving the fleet. */
  kill(): Promise<void>;
  /** SIGTERM: drains and leaves the fleet. */
  stop(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), 'orla-fleet-'));
let configs = 0;

export async function startGatewayProcess(config: Record<string, unknown>): Promise<GatewayProcess> {
  const file = join(dir, `gateway-${configs++}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'serve', '--config', file, '--port', '0', '--drain-timeout', '0.2'], { cwd: ROOT });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await within(
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) resolve(match[1]!);
      };
      child.stdout!.on('data', look);
      child.once('exit', (code) => reject(new Error(`orla serve exited ${code}: ${out}`)));
    }),
    'orla serve to say where it listens',
    START_MS,
  );
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await within(exited, `orla serve to exit on ${signal}`);
  };
  return { url, child, output: () => out, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

export interface Seen {
  run: string | undefined;
  body: Record<string, unknown>;
}

export interface FleetEngine {
  url: string;
  /** Completion requests, in arrival order, with the run they carry (x-session-id). */
  seen: Seen[];
  /** Runs released here (`POST /v1/sessions/{run}/flush`), in order. */
  released: string[];
  /** Requests in flight now, and the most there ever were at once. */
  inFlight: number;
  peak: number;
  /** Holds every answer until `let()`; answers the held ones and the next ones after `delayMs`. */
  hold(): void;
  let(): void;
  close(): Promise<void>;
}

/** An engine Orla drives as its simulator (runs tagged with x-session-id, released per run), answering after `delayMs`. */
export async function startFleetEngine(delayMs = 0): Promise<FleetEngine> {
  let holding = false;
  const held: (() => void)[] = [];
  const engine: FleetEngine = {
    url: '',
    seen: [],
    released: [],
    inFlight: 0,
    peak: 0,
    hold: () => void (holding = true),
    let: () => {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const answer = (req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) => {
    const release = /^\/v1\/sessions\/([^/]+)\/flush$/.exec(req.url ?? '');
    if (release) {
      engine.released.push(decodeURIComponent(release[1]!));
      return json(res, 200, { freed_tokens: 10 });
    }
    if (req.url === '/health') return json(res, 200, {});
    engine.seen.push({ run: req.headers['x-session-id'] as string | undefined, body });
    engine.inFlight++;
    engine.peak = Math.max(engine.peak, engine.inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      engine.inFlight--;
    };
    res.once('close', finish);
    const reply = () => {
      if (res.destroyed) return finish();
      setTimeout(() => {
        finish();
        json(res, 200, {
          id: 'chatcmpl-fleet',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 },
        });
      }, delayMs);
    };
    if (holding) held.push(reply);
    else reply();
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    answer(req, res, text ? (JSON.parse(text) as Record<string, unknown>) : {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  engine.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return engine;
}

/** One chat completion through a gateway, tagged with its run (and done, when it is the run's last call), with a key when given. */
export async function call(gateway: string, run: string | undefined, options: { done?: boolean; content?: string; key?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (run !== undefined) headers['x-orla-workflow-run'] = run;
  if (options.done) headers['x-orla-workflow-done'] = 'true';
  return fetch(`${gateway}/v1/chat/completions`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: options.content ?? `work of ${run}` }] }),
  });
}

/** A gateway's Prometheus text, one sample's value (undefined when absent). */
export async function metric(gateway: string, sample: string): Promise<number | undefined> {
  const text = await (await fetch(`${gateway}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}
