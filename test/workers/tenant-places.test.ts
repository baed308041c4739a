import { describe, expect, it, vi } from 'vitest';
import { ClientGone } from '../../cancel.js';
import type { TenantPass } from '../../routing/tenants.js';
import { RemoteTenantGate } from '../../gateway/workers/remote-tenants.js';
import { TenantPlaces, type EnterReply } from '../../gateway/workers/tenant-places.js';
import { within } from '../helpers/wait.js';
import { rpc } from './fake-objects.js';
import { settled, useFakeClock } from '../helpers/fake-clock.js';

// A tenant's limits as its Durable Object holds them for every isolate, and a Worker's side of them:
// passes are leases that expire when their holder stops renewing (its isolate died), a waiting
// request leaves when its client does, a refusal is the OrlaError Node gives. The object runs in
// workerd in worker.test.ts; here its clock is faked, so that a pass can outlive its TTL.

const TTL = 30_000;
const entry = { deadlineMs: undefined, waitedMs: 0 };
const idOf = (reply: EnterReply) => (reply.granted ? reply.passId : '');

useFakeClock();

describe("a tenant's limits in its Durable Object", () => {
  it('max_concurrency 1, queue_limit 1: one holds the place, one waits, the next is refused; done passes the place on', async () => {
    const places = new TenantPlaces('acme', { keys: ['k'], max_concurrency: 1, queue_limit: 1, weight: 1 });
    const first = await places.enter('t1', entry, TTL);
    expect(first.granted).toBe(true);
    places.dispatched(idOf(first));
    const second = places.enter('t2', entry, TTL);
    expect(await settled(second)).toBe(false);
    expect(await places.enter('t3', entry, TTL)).toMatchObject({ granted: false, error: { status: 429, code: 'tenant_queue_full', retryAfterS: 1 } });
    places.done(idOf(first));
    places.done(idOf(first)); // a second done frees nothing more
    const got = await within(second, 'the waiting request to get the place');
    expect(got).toMatchObject({ granted: true });
    expect(places.held).toBe(1);
    places.dispatched(idOf(got));
    expect(await settled(places.enter('t4', entry, TTL))).toBe(false);
  });

  it('a pass its holder stops renewing expires, and its place goes to the next waiting request', async () => {
    const places = new TenantPlaces('acme', { keys: ['k'], max_concurrency: 1, weight: 1 });
    const first = await places.enter('t1', entry, TTL);
    const second = places.enter('t2', entry, TTL);
    await vi.advanceTimersByTimeAsync(TTL / 2);
    places.renew([idOf(first)], TTL);
    await vi.advanceTimersByTimeAsync(TTL * 0.9);
    expect(await settled(second)).toBe(false);
    await vi.advanceTimersByTimeAsync(TTL);
    expect(await within(second, 'the waiting request to get the expired pass\'s place')).toMatchObject({ granted: true });
    places.done(idOf(first)); // the dead holder's late word changes nothing
    expect(places.held).toBe(1);
  });

  it('a waiting request whose client left is dropped, also when the news comes before the request', async () => {
    const places = new TenantPlaces('acme', { keys: ['k'], max_concurrency: 1, queue_limit: 1, weight: 1 });
    places.dispatched(idOf(await places.enter('t1', entry, TTL)));
    const waiting = places.enter('t2', entry, TTL);
    places.leave('t2');
    expect(await within(waiting, 'the request whose client left to be answered')).toMatchObject({ granted: false, error: { status: 499, code: 'client_closed' } });
    places.leave('t3');
    expect(await places.enter('t3', entry, TTL)).toMatchObject({ granted: false, error: { status: 499 } });
    // Neither holds a place in the queue: the next one waits rather than being refused.
    expect(await settled(places.enter('t4', entry, TTL))).toBe(false);
  });
});

describe("a tenant's limits from the Worker", () => {
  const world = () => {
    const places = new TenantPlaces('acme', { keys: ['k'], max_concurrency: 1, queue_limit: 1, weight: 1 });
    let calls = 0;
    const link = rpc({
      enter: (_t: string, id: string, e: typeof entry, ttl: number) => (calls++, places.enter(id, e, ttl)),
      leave: async (_t: string, id: string) => places.leave(id),
      dispatched: async (_t: string, id: string) => places.dispatched(id),
      done: async (_t: string, id: string) => places.done(id),
      renew: async (_t: string, ids: string[], ttl: number) => places.renew(ids, ttl),
    });
    const gate = new RemoteTenantGate({ acme: { keys: ['k'], max_concurrency: 1, queue_limit: 1, weight: 1 }, globex: { keys: ['g'], weight: 1 } }, () => link, { leaseTtlMs: TTL });
    return { places, gate, calls: () => calls };
  };

  it('renews a pass while its request runs, so a long answer keeps its place, and gives it back once', async () => {
    const { places, gate } = world();
    const pass = (await gate.enter('acme', {})) as TenantPass;
    pass.dispatched();
    await vi.advanceTimersByTimeAsync(TTL * 4);
    expect(places.held).toBe(1);
    pass.done();
    pass.done();
    await vi.advanceTimersByTimeAsync(0);
    expect(places.held).toBe(0);
    expect(await settled(Promise.resolve(gate.enter('acme', {})))).toBe(true); // the place is free
  });

  it('a waiting request whose client leaves leaves the queue; a refusal is the OrlaError Node gives', async () => {
    const { gate } = world();
    const held = (await gate.enter('acme', {})) as TenantPass;
    held.dispatched();
    const gone = new ClientGone();
    const waiting = gate.enter('acme', { signal: gone });
    await vi.advanceTimersByTimeAsync(0);
    await expect(gate.enter('acme', {})).rejects.toMatchObject({ status: 429, code: 'tenant_queue_full', retryAfterS: 1 });
    gone.abort();
    await expect(within(Promise.resolve(waiting), 'the waiting request to be answered')).rejects.toMatchObject({ status: 499 });
    const next = gate.enter('acme', {}); // the queue's place is free again: it waits, not refused
    expect(await settled(Promise.resolve(next))).toBe(false);
    held.done();
    expect(await within(Promise.resolve(next), 'the next request to get the place')).toBeDefined();
  });

  it('a tenant without limits, or no tenant, passes without a call', async () => {
    const { gate, calls } = world();
    for (const tenant of ['globex', undefined, 'unknown']) expect(gate.enter(tenant, {})).not.toBeInstanceOf(Promise);
    expect(calls()).toBe(0);
  });
});
