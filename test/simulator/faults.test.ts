import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_HEADER, startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { post, sseData, userTurn, waitFor } from './helpers.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ profile: 'instant', faults: true });
});
afterAll(() => sim.close());

const ANSWER = 'one two three four five six seven eight';
const body = (stream = true) => JSON.stringify({ messages: [userTurn(`[[sim:answer ${ANSWER}]]`)], stream });

/** A raw HTTP exchange whose progress can be inspected while it is still open. */
function exchange(fault: string, payload = body()) {
  const state = { status: 0, text: '', ended: false, failed: false, headers: false };
  const req = httpRequest(sim.url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', [FAULT_HEADER]: fault } }, (res: IncomingMessage) => {
    state.headers = true;
    state.status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (state.text += chunk));
    res.on('end', () => (state.ended = true));
    res.on('error', () => (state.failed = true));
    res.on('aborted', () => (state.failed = true));
  });
  req.on('error', () => (state.failed = true));
  const sent = new Promise<void>((resolve) => req.end(payload, resolve));
  return { state, req, sent };
}

/** Round trips on other connections: by then the server has long read and handled the faulty request. */
async function settle(): Promise<void> {
  await waitFor(() => sim.engine.stats().running === 0 && sim.engine.stats().waiting === 0, 'the engine to drain');
  for (let i = 0; i < 3; i++) await (await fetch(`${sim.url}/health`)).text();
}

describe('fault injection', () => {
  it('answers status=<code> with an error envelope of that status', async () => {
    const res = await post(sim, '/v1/chat/completions', body(false), { [FAULT_HEADER]: 'status=503' });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { message: expect.stringContaining('status=503'), type: 'ServiceUnavailableError', param: null, code: 503 } });
  });

  it('destroys the socket before any response on reset', async () => {
    const { state } = exchange('reset');
    await waitFor(() => state.failed, 'the connection to fail');
    expect(state.headers).toBe(false);
  });

  it('never answers on hang, until the client leaves', async () => {
    const { state, req, sent } = exchange('hang');
    await sent;
    await settle();
    expect(state).toMatchObject({ headers: false, failed: false });
    req.destroy();
  });

  it('streams n content chunks then goes silent with the connection open on stall-after', async () => {
    const { state, req, sent } = exchange('stall-after=2');
    await sent;
    await waitFor(() => sseData(state.text).length >= 3, 'the first chunks');
    await settle();
    const events = sseData(state.text);
    expect(events).toHaveLength(3); // the role chunk and two content chunks
    expect(events.slice(1).map((e) => e.choices[0].delta.content).join('')).toBe('one two');
    expect(state).toMatchObject({ ended: false, failed: false });
    req.destroy();
  });

  it('streams n content chunks then destroys the socket on cut-after', async () => {
    const { state } = exchange('cut-after=3');
    await waitFor(() => state.failed || state.ended, 'the stream to stop');
    expect(state.failed).toBe(true);
    expect(sseData(state.text)).toHaveLength(4);
    expect(state.text).not.toContain('[DONE]');
  });

  it('emits a broken SSE data line mid-stream on malformed-sse', async () => {
    const { state } = exchange('malformed-sse');
    await waitFor(() => state.ended, 'the stream to end');
    expect(() => sseData(state.text)).toThrow(SyntaxError);
    expect(state.text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('rejects an unknown fault with a 400 naming the header', async () => {
    const res = await post(sim, '/v1/chat/completions', body(false), { [FAULT_HEADER]: 'explode' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe(FAULT_HEADER);
  });

  it('ignores the header on a simulator started without faults', async () => {
    const plain = await startSimulator({ profile: 'instant' });
    try {
      const res = await post(plain, '/v1/chat/completions', body(false), { [FAULT_HEADER]: 'status=500' });
      expect(res.status).toBe(200);
    } finally {
      await plain.close();
    }
  });
});
