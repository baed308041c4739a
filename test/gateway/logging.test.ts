import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { twoBackendConfig } from '../helpers/gateway.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';

// One structured line per request: who, where, how long; never a key or what the messages say.

let engine: RecordingEngine;
let gateway: RunningGateway;
const lines: string[] = [];

beforeAll(async () => {
  engine = await startRecordingEngine();
  const config = validateConfig(
    twoBackendConfig(engine.url, engine.url, { server: { api_keys: ['sk-orla-gateway'] }, heavy: { api_key: 'sk-engine-secret' } }),
    { env: {} },
  );
  config.server.port = 0;
  config.server.drain_timeout_s = 0.2;
  config.memory.pressure.interval_ms = 0;
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).trim().split('\n')), done()) });
  gateway = await startGateway(config, { log: pino({ level: 'info', base: undefined }, sink) });
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

describe('request log', () => {
  it('writes one line per request with its id, stage, backend, status, timings and tags, and no secret or content', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer sk-orla-gateway',
        'x-orla-stage': 'reply',
        'x-orla-workflow-run': 'run-42',
        'x-orla-tag-team': 'billing',
        'x-request-id': 'req-log-1',
      },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'My card was charged twice.' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.id === 'req-log-1');
    expect(line).toMatchObject({ msg: 'request', route: '/v1/chat/completions', stage: 'reply', run: 'run-42', backend: 'heavy', status: 200, tags: { team: 'billing' } });
    expect(line!.ms).toEqual(expect.any(Number));
    expect(line!.overhead_ms).toEqual(expect.any(Number));
    const all = lines.join('\n');
    for (const secret of ['sk-orla-gateway', 'sk-engine-secret', 'charged twice']) expect(all).not.toContain(secret);
  });
});
