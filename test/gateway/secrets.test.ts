import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { capturedLog } from '../helpers/log.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until, within } from '../helpers/wait.js';

// Keys never leave the gateway: not in an error body, not in a response header, not in a log line,
// whichever way a request fails. Every failure path is driven here against real engines (simulators
// with faults, a port nobody listens on), with every log line of every level captured.

const CLIENT_KEY = 'client-secret-5e1f0a93c7';
const BACKEND_KEY = 'backend-secret-b41d2e8f06';
/** A key a client got wrong is a key too (someone's, or a typo of the right one). */
const WRONG_KEY = 'wrong-secret-77c0d9e2aa';
const SECRETS = [CLIENT_KEY, BACKEND_KEY, WRONG_KEY];

let sim: RunningSimulator; // faults on: each request picks its failure with x-sim-fault
let held: RunningSimulator; // paused: what it is sent stays in flight
let recorder: RecordingEngine; // shows what goes upstream
let gateway: RunningGateway;
const { log, lines } = capturedLog();

/** A URL whose port refuses connections: it was free a moment ago. */
async function refusingUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

beforeAll(async () => {
  [sim, held] = await Promise.all([
    startSimulator({ profile: 'instant', faults: true, models: ['m'] }),
    startSimulator({ profile: 'instant', models: ['m'] }),
  ]);
  held.engine.pause();
  recorder = await startRecordingEngine();
  const refusing = await refusingUrl();
  const keyed = { api_key: BACKEND_KEY, retries: { attempts: 0 } };
  gateway = await startTestGateway(
    {
      server: { api_keys: [CLIENT_KEY], body_limit_mb: 0.01 },
      backends: {
        main: { engine: 'vllm', urls: [sim.url], ...keyed, timeouts: { first_byte_ms: 300, idle_ms: 300 }, circuit: { failures: 1000 } },
        patient: { engine: 'vllm', urls: [sim.url], ...keyed }, // the production timeouts
        recorded: { engine: 'vllm', urls: [recorder.url], ...keyed },
        refusing: { engine: 'sglang', urls: [refusing], ...keyed, circuit: { failures: 1000 } },
        tripping: { engine: 'vllm', urls: [refusing], ...keyed, circuit: { failures: 1, open_ms: 600_000 } },
        narrow: { engine: 'simulator', urls: [held.url], ...keyed, max_concurrency: 1, queue_limit: 1 },
      },
      mappers: {
        triage: {
          kind: 'onebit',
          classifier: { backend: 'refusing', model: 'm' },
          simple: { backend: 'main', model: 'm' },
          complex: { backend: 'main', model: 'm' },
        },
      },
      stages: {
        default: { backend: 'main', model: 'm' },
        patient: { backend: 'patient', model: 'm' },
        recorded: { backend: 'recorded', model: 'm' },
        refusing: { backend: 'refusing', model: 'm' },
        tripping: { backend: 'tripping', model: 'm' },
        narrow: { backend: 'narrow', model: 'm' },
        triage: { mapper: 'triage' },
      },
    },
    undefined,
    { log },
  );
});
afterAll(async () => {
  held?.engine.resume();
  await gateway?.close();
  await Promise.all([sim?.close(), held?.close(), recorder?.close()]);
});

interface Seen {
  what: string;
  id: string;
  status: number;
  headers: [string, string][];
  body: string;
}
const seen: Seen[] = [];
let nextId = 0;

/** A chat call on `stage` with the client's key, its failure picked by `fault`; its whole answer is kept in `seen`. */
async function call(what: string, options: { stage?: string | null; fault?: string; stream?: boolean; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<Seen> {
  const id = `secrets-${nextId++}`;
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${CLIENT_KEY}`,
      'x-request-id': id,
      'x-orla-workflow-run': id,
      ...(options.stage === null ? {} : { 'x-orla-stage': options.stage ?? 'default' }),
      ...(options.fault ? { 'x-sim-fault': options.fault } : {}),
      ...options.headers,
    },
    body: options.body ?? JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Summarise the ticket.' }], max_tokens: 8, stream: options.stream ?? false }),
    signal: options.signal,
  });
  const entry = { what, id, status: res.status, headers: [...res.headers], body: await res.text() };
  seen.push(entry);
  return entry;
}

const backendState = async (name: string) => {
  const res = await fetch(`${gateway.url}/v1/backends`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  return ((await res.json()).data as { name: string; waiting: number; replicas: { in_flight: number }[] }[]).find((b) => b.name === name)!;
};

/** The last SSE event's JSON (the error event a failed stream ends with). */
const lastEvent = (body: string) => JSON.parse(body.trimEnd().split('\n\n').at(-1)!.slice('data: '.length));

describe('secrets on every failure path', () => {
  it('the backend key goes upstream, the client\'s never does', async () => {
    expect((await call('success', { stage: 'recorded' })).status).toBe(200);
    expect(recorder.received.map((r) => r.headers.authorization)).toEqual([`Bearer ${BACKEND_KEY}`]);
    expect(JSON.stringify(recorder.received)).not.toContain(CLIENT_KEY);
  });

  it('an engine that refuses the connection: 502', async () => {
    expect((await call('refused', { stage: 'refusing' })).status).toBe(502);
  });

  it('an engine that resets the connection: 502', async () => {
    expect((await call('reset', { fault: 'reset' })).status).toBe(502);
  });

  it('an engine that fails: its 500, 400 and 401 pass through', async () => {
    expect((await call('engine 500', { fault: 'status=500' })).status).toBe(500);
    expect((await call('engine 400', { fault: 'status=400' })).status).toBe(400);
    expect((await call('engine 401', { fault: 'status=401' })).status).toBe(401);
  });

  it('an engine that sends no response in time: 504', async () => {
    expect((await call('first-byte timeout', { fault: 'hang' })).status).toBe(504);
  });

  it('a stream cut mid-way, a stream that stalls, a malformed stream, a truncated body', async () => {
    const cut = await call('cut mid-stream', { fault: 'cut-after=2', stream: true });
    expect(lastEvent(cut.body).error.type).toBe('upstream_error');
    const stalled = await call('stalled stream', { fault: 'stall-after=2', stream: true });
    expect(lastEvent(stalled.body).error.code).toBe('upstream_timeout');
    expect((await call('malformed stream', { fault: 'malformed-sse', stream: true })).status).toBe(200);
    expect((await call('truncated body', { fault: 'malformed-sse' })).status).toBe(200);
  });

  it('a client that leaves mid-stream (499 in the log)', async () => {
    const id = 'secrets-leaves';
    const controller = new AbortController();
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'x-request-id': id, 'x-orla-stage': 'patient', 'x-sim-fault': 'stall-after=1' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Summarise the ticket.' }], max_tokens: 8, stream: true }),
      signal: controller.signal,
    });
    const first = await within(res.body!.getReader().read(), 'the first chunk');
    seen.push({ what: 'client left', id, status: res.status, headers: [...res.headers], body: new TextDecoder().decode(first.value) });
    controller.abort();
    await until(() => lines.some((l) => l.includes(`"id":"${id}"`) && l.includes('"status":499')), 'the 499 log line');
  });

  it('an open circuit: 503', async () => {
    expect((await call('trips the circuit', { stage: 'tripping' })).status).toBe(502);
    expect((await call('circuit open', { stage: 'tripping' })).status).toBe(503);
  });

  it('a deadline passed in the queue (408) and a full queue (429)', async () => {
    const first = call('holds the only slot', { stage: 'narrow' });
    await until(async () => (await backendState('narrow')).replicas[0]!.in_flight === 1, 'the first call to take the slot');
    expect((await call('deadline', { stage: 'narrow', headers: { 'x-orla-deadline-ms': '50' } })).status).toBe(408);
    const queued = call('waits its turn', { stage: 'narrow' });
    await until(async () => (await backendState('narrow')).waiting === 1, 'a call to wait in the queue');
    expect((await call('queue full', { stage: 'narrow' })).status).toBe(429);
    held.engine.resume();
    expect((await within(first, 'the held call to finish')).status).toBe(200);
    expect((await within(queued, 'the queued call to finish')).status).toBe(200);
  });

  it('requests the gateway refuses: bad JSON, not JSON, too large, unknown stage model, wrong or missing key', async () => {
    expect((await call('bad JSON', { body: '{"model": ' })).status).toBe(400);
    expect((await call('not JSON', { headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await call('too large', { body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(20_000) }] }) })).status).toBe(413);
    expect((await call('unknown stage model', { stage: null, body: JSON.stringify({ model: 'orla:nope', messages: [{ role: 'user', content: 'hi' }] }) })).status).toBe(404);
    expect((await call('wrong key', { headers: { authorization: `Bearer ${WRONG_KEY}` } })).status).toBe(401);
    expect((await call('key in the wrong scheme', { headers: { authorization: `Basic ${CLIENT_KEY}` } })).status).toBe(401);
  });

  it('a OneBit classifier that fails: the request still succeeds, on the fallback side', async () => {
    const res = await call('classifier failed', { stage: 'triage' });
    expect(res.status).toBe(200);
    expect(new Map(res.headers).get('x-orla-mapped')).toBe('fallback');
  });

  it('appears in no response body or header, no log line, and no read-only API', async () => {
    expect(seen.length).toBeGreaterThanOrEqual(20);
    for (const { what, headers, body } of seen) {
      for (const secret of SECRETS) {
        expect(body, `${what}: body`).not.toContain(secret);
        for (const [name, value] of headers) expect(`${name}: ${value}`, `${what}: header ${name}`).not.toContain(secret);
      }
    }

    const auth = { authorization: `Bearer ${CLIENT_KEY}` };
    const views = [
      await (await fetch(`${gateway.url}/metrics`)).text(),
      await (await fetch(`${gateway.url}/v1/backends`, { headers: auth })).text(),
      await (await fetch(`${gateway.url}/v1/workflows`, { headers: auth })).text(),
      ...(await Promise.all(seen.map(async ({ id }) => (await fetch(`${gateway.url}/v1/workflows/${id}`, { headers: auth })).text()))),
    ];
    // The run records hold the failures' messages (last_error): the views are worth reading.
    expect(views.join('\n')).toContain('"last_error":{');
    for (const view of views) for (const secret of SECRETS) expect(view).not.toContain(secret);

    // Every request wrote its line (the failures at warn), and no line of any level holds a key.
    await until(() => seen.every(({ id }) => lines.some((l) => l.includes(`"id":"${id}"`))), 'a log line for every request');
    expect(lines.some((l) => JSON.parse(l).level >= 40)).toBe(true);
    for (const line of lines) for (const secret of SECRETS) expect(line).not.toContain(secret);
  });
});
