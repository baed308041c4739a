import { describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import type { UpstreamClient } from '../../upstream/clients/types.js';
import { within } from '../helpers/wait.js';
import { BackendGate, type WireTicket } from '../../gateway/workers/backend-gate.js';
import { settled, useFakeClock } from '../helpers/fake-clock.js';

// A backend's admission as its Durable Object holds it for every isolate: leases, their expiry when
// a holder stops renewing (its isolate died), and tickets whose client left. The object itself runs
// in workerd in worker.test.ts; here its clock is faked, so that a lease can outlive its TTL.

const TTL = 30_000;
const noClient = {} as UpstreamClient;

async function gate(backend: Record<string, unknown> = {}, more: Record<string, unknown> = {}) {
  const config = validateConfig({ backends: { main: { engine: 'vllm', urls: ['http://replica.test'], max_concurrency: 1, queue_limit: 4, ...backend } }, stages: { default: { backend: 'main', model: 'm' } }, ...more }, { env: {} });
  const backends = createBackends(config, (_n, b) => b.urls!, () => noClient, await loadPolicies(config, '.'));
  return new BackendGate(backends.get('main')!);
}

const ticket = (overrides: Partial<WireTicket> = {}): WireTicket => ({
  stage: 'default', run: undefined, tenant: undefined, priority: 0, promptTokens: 10, deadlineMs: undefined, waitedMs: 0, avoid: undefined, affinity: undefined, prefixHash: undefined, ...overrides,
});

useFakeClock();

describe('a backend\'s admission in its Durable Object', () => {
  it('a lease its holder stops renewing expires, and its slot goes to the next in the queue', async () => {
    const g = await gate();
    const first = await g.acquire('t1', ticket(), TTL);
    expect(first).toMatchObject({ granted: true, replica: 'http://replica.test' });
    const second = g.acquire('t2', ticket(), TTL);
    expect(await settled(second)).toBe(false);
    expect(g.view().snapshot.waiting).toBe(1);

    // Renewed in time, the lease holds past its first TTL.
    await vi.advanceTimersByTimeAsync(TTL / 2);
    g.renew([first.granted ? first.leaseId : ''], TTL);
    await vi.advanceTimersByTimeAsync(TTL * 0.9);
    expect(await settled(second)).toBe(false);

    // Its holder died: no more renewals. The object's own timer frees the slot.
    await vi.advanceTimersByTimeAsync(TTL);
    expect(await within(second, 'the queued ticket to get the expired lease\'s slot')).toMatchObject({ granted: true });
    expect(g.view().snapshot.replicas[0]!.in_flight).toBe(1);

    // The dead holder's late release changes nothing: the slot is the new holder's.
    g.release(first.granted ? first.leaseId : '', 'success', 10);
    expect(g.view().snapshot.replicas[0]!.in_flight).toBe(1);
  });

  it('an expired lease says nothing of the replica: its circuit stays closed', async () => {
    const g = await gate({ circuit: { failures: 1, open_ms: 60_000 } });
    await g.acquire('t1', ticket(), TTL);
    await vi.advanceTimersByTimeAsync(TTL * 2);
    expect(g.held).toBe(0);
    expect(g.view()).toMatchObject({ circuitOpen: false, snapshot: { replicas: [{ circuit: 'closed', in_flight: 0 }] } });
  });

  it('a waiting ticket whose client left is dropped, also when the news comes before the ticket', async () => {
    const g = await gate();
    const held = await g.acquire('t1', ticket(), TTL);
    const waiting = g.acquire('t2', ticket(), TTL);
    g.leave('t2');
    expect(await within(waiting, 'the ticket whose client left to be answered')).toMatchObject({ granted: false, error: { status: 499, code: 'client_closed' } });
    g.leave('t3');
    expect(await g.acquire('t3', ticket(), TTL)).toMatchObject({ granted: false, error: { status: 499 } });
    expect(g.view().snapshot.waiting).toBe(0);
    g.release(held.granted ? held.leaseId : '', 'success', 1);
  });

  it('refuses past the queue limit with what a 429 needs, and a deadline the wait used up with 408', async () => {
    const g = await gate({ queue_limit: 1 });
    await g.acquire('t1', ticket(), TTL);
    void g.acquire('t2', ticket(), TTL);
    const full = await g.acquire('t3', ticket(), TTL);
    expect(full).toMatchObject({ granted: false, error: { status: 429, code: 'queue_full', type: 'rate_limit_error' } });
    expect(full.granted ? undefined : full.error.retryAfterS).toBeGreaterThan(0);
    const late = await g.acquire('t4', ticket({ deadlineMs: 100, waitedMs: 150 }), TTL);
    expect(late).toMatchObject({ granted: false, error: { status: 408, code: 'deadline_exceeded' } });
  });

  it("shares a saturated backend among the tickets' tenants by their weights (acme 2 : globex 1)", async () => {
    const tenants = { acme: { keys: ['sk-a'], weight: 2 }, globex: { keys: ['sk-g'] } };
    const g = await gate({ queue_limit: 16 }, { tenants });
    const first = await g.acquire('first', ticket(), TTL);
    const order: string[] = [];
    const leases: string[] = [];
    const waiting = ['globex 0', 'globex 1', 'globex 2', 'globex 3', 'acme 0', 'acme 1'].map((name) =>
      g.acquire(name, ticket({ tenant: name.split(' ')[0] }), TTL).then((reply) => {
        order.push(name);
        if (reply.granted) leases.push(reply.leaseId);
      }),
    );
    expect(g.view().snapshot.waiting).toBe(6);
    g.release(first.granted ? first.leaseId : '', 'success', 1);
    for (let served = 1; served <= 6; served++) {
      await vi.advanceTimersByTimeAsync(0);
      expect(order).toHaveLength(served);
      g.release(leases.at(-1)!, 'success', 1);
    }
    await Promise.all(waiting);
    // By arrival (the tenant lost on the way to the object), all of globex's would go first.
    expect(order).toEqual(['acme 0', 'globex 0', 'acme 1', 'globex 1', 'globex 2', 'globex 3']);
  });
});
