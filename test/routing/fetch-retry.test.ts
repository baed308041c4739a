import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { dispatch } from '../../routing/dispatch.js';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import { FetchUpstream } from '../../upstream/clients/fetch.js';

// On the fetch path (Workers, Deno, Bun) a refused connection is retried on another replica, as
// on undici's: fetch reports it as `TypeError: fetch failed` with the code on its cause.

let engine: Server;
let engineUrl: string;
let closedUrl: string;

beforeAll(async () => {
  engine = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
  engineUrl = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;
  const probe = createServer(); // a port that was just free and is closed again: nothing listens there
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});
afterAll(() => new Promise<void>((resolve) => engine.close(() => resolve())));

it('retries a refused connection on the other replica', async () => {
  const config = validateConfig({
    backends: { main: { engine: 'openai', urls: [closedUrl, engineUrl], retries: { attempts: 1, backoff_ms: 1 } } },
    stages: { default: { backend: 'main', model: 'm' } },
  });
  const backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new FetchUpstream(url, t), await loadPolicies(config, '.'));
  const backend = backends.get('main')!;
  const tried: string[] = [];
  const ticket = { stage: 'default', run: undefined, priority: 0, promptTokens: 1 };
  const { lease, response, attempts } = await dispatch(backend, ticket, (replica) => {
    tried.push(replica.url);
    return { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{}' };
  });
  expect(response.status).toBe(200);
  expect(new TextDecoder().decode(await response.readAll())).toBe('{"ok":true}');
  lease.release('success');
  expect(tried).toEqual([closedUrl, engineUrl]);
  expect(attempts).toBe(2);
});
