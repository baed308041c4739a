import { describe, expect, it } from 'vitest';
import { TenantGate, type TenantPass } from '../../routing/tenants.js';

// A tenant's limits in a fleet: the gate takes this gateway's part of them (routing/fleet-shares.ts
// splits them over the live gateways), read again at every admission, so the part moves with the fleet.

describe("a tenant's share of its limits", () => {
  const ticket = { signal: undefined, deadlineMs: undefined, arrivedAt: 0 };

  it('admits up to its share, lets more in when the share grows, and none past a share that shrank', async () => {
    let share = 1;
    const gate = new TenantGate({ acme: { keys: [], max_concurrency: 4, queue_limit: 8, weight: 1 } }, { tenantConcurrency: () => share, tenantQueueLimit: (n) => n });
    const order: number[] = [];
    const enter = (i: number) => Promise.resolve(gate.enter('acme', ticket)).then((pass) => (order.push(i), pass));
    const passes: Promise<TenantPass>[] = [0, 1, 2, 3].map(enter);
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual([0]);
    share = 3; // the fleet shrank: the next admission lets the waiting ones in, in their order
    passes.push(enter(4));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(order).toEqual([0, 1, 2]);
    share = 1; // it grew again: the ones in flight finish, and only then does another go
    (await passes[0]!).done();
    (await passes[1]!).done();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(order).toEqual([0, 1, 2]);
    (await passes[2]!).done();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it("refuses past its share of the queue limit (429)", () => {
    const gate = new TenantGate({ acme: { keys: [], max_concurrency: 1, queue_limit: 4, weight: 1 } }, { tenantConcurrency: (n) => n, tenantQueueLimit: () => 2 });
    gate.enter('acme', ticket);
    void Promise.resolve(gate.enter('acme', ticket));
    expect(() => gate.enter('acme', ticket)).toThrow(expect.objectContaining({ status: 429 }));
  });
});
