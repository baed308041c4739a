import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';
import { capturedLog } from '../helpers/log.js';
import { holdAnswers, startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';
import { until } from '../helpers/wait.js';

// Keys, roles and tenants, through HTTP with real keys: the admin API only for admin keys; a run
// private to its tenant (the same id from two tenants is two runs); a tenant's max_concurrency held
// across the gateway without holding up another tenant; weights sharing a saturated backend.

const KEYS = { default: 'sk-default-5b1e', admin: 'sk-admin-9c2f', acme: 'sk-acme-71d4', globex: 'sk-globex-0a8e', initech: 'sk-initech-3f60' };

let engine: RecordingEngine;
let gateway: RunningGateway;
let held: unknown[];
let answerNext: () => Promise<void>;
const { log, lines } = capturedLog();

beforeAll(async () => {
  engine = await startRecordingEngine();
  gateway = await startTestGateway(
    {
      server: { api_keys: [KEYS.default], admin_keys: [KEYS.admin] },
      tenants: { acme: { keys: [KEYS.acme], max_concurrency: 2, weight: 2 }, globex: { keys: [KEYS.globex] }, initech: { keys: [KEYS.initech], max_concurrency: 1, queue_limit: 2 } },
      backends: {
        main: { engine: 'vllm', urls: [engine.url] },
        narrow: { engine: 'vllm', urls: [engine.url], max_concurrency: 1 },
      },
      stages: { default: { backend: 'main', model: 'm' }, narrow: { backend: 'narrow', model: 'm' } },
    },
    undefined,
    { log },
  );
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});
afterEach(() => engine.respondWith(undefined)); // a test that holds answers never holds up the next

const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
const chat = (key: string, headers: Record<string, string> = {}, content = 'hi') =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...as(key, headers) },
    body: JSON.stringify({ messages: [{ role: 'user', content }] }),
  });
const workflows = (key: string, path = '', init: RequestInit = {}) => fetch(`${gateway.url}/v1/workflows${path}`, { ...init, headers: as(key) });
const contentOf = (r: { body: Record<string, unknown> }) => (r.body.messages as { content: string }[])[0]!.content;

describe('roles', () => {
  it('the admin API answers 403 in the OpenAI envelope to a client key, and serves an admin key', async () => {
    for (const key of [KEYS.default, KEYS.acme]) {
      const res = await fetch(`${gateway.url}/v1/backends/main`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...as(key) }, body: '{"max_concurrency": 1}' });
      expect(res.status).toBe(403);
      expect((await res.json()).error).toMatchObject({ type: 'permission_error', code: 'forbidden' });
    }
    const admin = await fetch(`${gateway.url}/v1/backends/main`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...as(KEYS.admin) }, body: '{"max_concurrency": 64}' });
    expect(admin.status).toBe(200);
    expect((await admin.json()).max_concurrency).toBe(64);
    expect((await fetch(`${gateway.url}/v1/backends`, { headers: as('sk-wrong') })).status).toBe(401);
  });
});

describe('a run belongs to its tenant', () => {
  it('the same run id from two tenants is two runs, each seen only by its tenant, all by an admin', async () => {
    for (const key of [KEYS.acme, KEYS.acme, KEYS.globex]) expect((await chat(key, { 'x-orla-workflow-run': 'ticket-1' })).status).toBe(200);
    expect((await chat(KEYS.acme, { 'x-orla-workflow-run': 'acme-only' })).status).toBe(200);

    const acme = await (await workflows(KEYS.acme, '/ticket-1')).json();
    const globex = await (await workflows(KEYS.globex, '/ticket-1')).json();
    expect([acme.calls, acme.tenant, acme.id]).toEqual([2, 'acme', 'ticket-1']);
    expect([globex.calls, globex.tenant, globex.id]).toEqual([1, 'globex', 'ticket-1']);

    // Another tenant's run is a 404, as an unknown one: nothing says it exists.
    for (const res of [await workflows(KEYS.globex, '/acme-only'), await workflows(KEYS.globex, '/acme-only/complete', { method: 'POST' }), await workflows(KEYS.default, '/acme-only')]) {
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('run_not_found');
    }
    const listed = (await (await workflows(KEYS.globex)).json()).data as { id: string; tenant: string }[];
    expect(listed.map((r) => `${r.tenant}/${r.id}`)).toEqual(['globex/ticket-1']);
    expect((await (await workflows(KEYS.acme, '/acme-only')).json()).status).toBe('idle'); // still there, untouched

    // An admin lists every tenant's runs and names one tenant's with ?tenant=.
    const all = (await (await workflows(KEYS.admin)).json()).data as { id: string; tenant: string }[];
    expect(all.map((r) => `${r.tenant}/${r.id}`)).toEqual(expect.arrayContaining(['acme/ticket-1', 'globex/ticket-1', 'acme/acme-only']));
    expect((await workflows(KEYS.admin, '/acme-only')).status).toBe(404); // its own tenant's: none
    expect((await (await workflows(KEYS.admin, '/acme-only?tenant=acme')).json()).calls).toBe(1);
    const completed = await workflows(KEYS.admin, '/acme-only/complete?tenant=acme', { method: 'POST' });
    expect((await completed.json()).status).toBe('completed');
  });
  it('an inferred run is scoped the same way: one conversation from two tenants is two runs', async () => {
    const untagged = (key: string) =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...as(key) },
        body: JSON.stringify({ messages: [{ role: 'system', content: 'You triage tickets.' }, { role: 'user', content: 'My card was charged twice.' }] }),
      });
    const [a1, a2, g] = [await untagged(KEYS.acme), await untagged(KEYS.acme), await untagged(KEYS.globex)];
    const run = a1.headers.get('x-orla-workflow-run')!;
    expect([a2.headers.get('x-orla-workflow-run'), g.headers.get('x-orla-workflow-run')]).toEqual([run, run]); // the same inferred id
    expect((await (await workflows(KEYS.acme, `/${run}`)).json()).calls).toBe(2);
    expect((await (await workflows(KEYS.globex, `/${run}`)).json()).calls).toBe(1);
  });
});

describe("a tenant's limits", () => {
  it('max_concurrency holds for the tenant across the gateway; its waiting requests hold up no other tenant', async () => {
    ({ held, answerNext } = holdAnswers(engine));
    engine.received.length = 0;
    const acme = Array.from({ length: 6 }, (_, i) => chat(KEYS.acme, {}, `acme ${i}`));
    await until(() => held.length === 2, 'two of acme\'s requests to reach the engine');
    const globex = chat(KEYS.globex, {}, 'globex');
    await until(() => held.length === 3, 'globex\'s request to go straight through');
    const acmeAtEngine = (answered: number) => engine.received.slice(answered).map(contentOf).filter((c) => c.startsWith('acme')).length;
    expect(acmeAtEngine(0)).toBe(2);
    for (let answered = 1; answered <= 7; answered++) {
      await answerNext(); // the oldest first
      await until(() => engine.received.length >= Math.min(7, answered + 2), 'the next of acme\'s requests to take the freed place');
      expect(acmeAtEngine(answered)).toBeLessThanOrEqual(2);
    }
    expect((await globex).status).toBe(200);
    expect((await Promise.all(acme)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
  });

  it('tenants share a saturated backend by their weights (acme 2 : globex 1)', async () => {
    ({ held, answerNext } = holdAnswers(engine));
    engine.received.length = 0;
    const first = chat(KEYS.default, { 'x-orla-stage': 'narrow' }, 'first'); // takes the one slot
    await until(() => held.length === 1, 'the first request to take the slot');
    const queued = async () => (await (await fetch(`${gateway.url}/v1/backends`, { headers: as(KEYS.admin) })).json()).data.find((b: { name: string }) => b.name === 'narrow').waiting;
    const waiting: Promise<Response>[] = [];
    // One at a time, so their order of arrival is known: all of globex's first.
    for (const name of ['globex 0', 'globex 1', 'globex 2', 'globex 3', 'acme 0', 'acme 1']) {
      waiting.push(chat(name.startsWith('acme') ? KEYS.acme : KEYS.globex, { 'x-orla-stage': 'narrow' }, name));
      await until(async () => (await queued()) === waiting.length, `${name} to wait`);
    }
    for (let i = 0; i < 7; i++) await answerNext();
    await Promise.all([first, ...waiting]);
    // Smooth weighted turns, acme twice as often while both wait; then globex alone. By arrival
    // (without tenant weights) all of globex's would have gone first.
    expect(engine.received.slice(1).map(contentOf)).toEqual(['acme 0', 'globex 0', 'acme 1', 'globex 1', 'globex 2', 'globex 3']);
  });
  it("queue_limit refuses a tenant's request past its waiting limit with 429 and Retry-After, and nobody else's", async () => {
    ({ held, answerNext } = holdAnswers(engine));
    const inFlight = chat(KEYS.initech, {}, 'initech 0');
    await until(() => held.length === 1, "initech's first request to reach the engine");
    const waiting = [chat(KEYS.initech, {}, 'initech 1'), chat(KEYS.initech, {}, 'initech 2')];
    const initechWaiting = async () => /orla_tenant_requests\{tenant="initech",state="waiting"\} (\d+)/.exec(await (await fetch(`${gateway.url}/metrics`)).text())?.[1];
    await until(async () => (await initechWaiting()) === '2', "two of initech's requests to wait");
    const refused = await chat(KEYS.initech, {}, 'initech over');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await refused.json()).error).toMatchObject({ type: 'rate_limit_error', code: 'tenant_queue_full' });
    const other = chat(KEYS.globex, {}, 'globex beside');
    await until(() => held.length === 2, "globex's request to go straight through");
    engine.respondWith(undefined);
    await answerNext();
    await answerNext();
    expect((await other).status).toBe(200);
    expect((await Promise.all([inFlight, ...waiting])).map((r) => r.status)).toEqual([200, 200, 200]);
  });
});

describe('keys', () => {
  it('never appear in a log line or an error body', async () => {
    const bodies: string[] = [];
    for (const key of [...Object.values(KEYS), 'sk-wrong-key-1234']) {
      bodies.push(await (await chat(key, {}, 'x')).text());
      bodies.push(await (await fetch(`${gateway.url}/v1/backends/main`, { method: 'PATCH', headers: as(key), body: '{}' })).text());
      bodies.push(await (await workflows(key, '/nope')).text());
    }
    const everything = [...lines, ...bodies].join('\n');
    for (const key of Object.values(KEYS)) expect(everything).not.toContain(key);
    expect(everything).not.toContain('sk-wrong-key-1234');
    expect(lines.some((line) => line.includes('"tenant":"acme"'))).toBe(true); // tenants are logged; keys never
  });
});
