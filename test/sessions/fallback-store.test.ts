import { describe, expect, it } from 'vitest';
import { FallbackRunStore } from '../../sessions/fallback-store.js';
import { MemoryRunStore } from '../../sessions/memory-store.js';
import { runOp, type RunStore } from '../../state.js';

// A fleet gateway's runs while the shared store fails: every operation is served from the gateway's
// own store at once, a call ends where it began, and reads merge both. The shared store here is an
// in-memory one that can be made to fail, as Redis fails.

function setup() {
  const ttl = { maxRuns: 100, idleTtlMs: 60_000, onExpired: () => undefined };
  const inner = new MemoryRunStore(ttl);
  let down = false;
  let calls = 0;
  const shared = new Proxy(inner, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls++;
        if (down) return Promise.reject(new Error('connect ECONNREFUSED'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as RunStore;
  const health: { up: boolean; failures: number; failed(): void } = {
    up: true,
    failures: 0,
    failed() {
      this.failures++;
      this.up = false;
    },
  };
  const local = new MemoryRunStore(ttl);
  const store = new FallbackRunStore(shared, local, health);
  return { store, inner, local, health, fail: (d: boolean) => (down = d), calls: () => calls };
}

const create = (now: number) => ({ create: { inferred: false, now } });

describe('the run store of a fleet gateway, when the shared store fails', () => {
  it('serves from the shared store while it answers', async () => {
    const { store, inner, local } = setup();
    await store.apply('r', [runOp.incr('calls', 1)], create(1));
    expect((await inner.get('r'))!.calls).toBe(1);
    expect(await local.get('r')).toBeUndefined();
  });

  it('falls back at the first failure, and asks the shared store nothing more until it is back', async () => {
    const { store, local, health, fail, calls } = setup();
    fail(true);
    const { after } = await store.apply('r', [runOp.incr('calls', 1)], create(1));
    expect(after!.calls).toBe(1);
    expect(health.failures).toBe(1);
    expect((await local.get('r'))!.calls).toBe(1);
    const asked = calls();
    await store.apply('r', [runOp.incr('calls', 1)], create(2));
    expect(await store.get('r')).toMatchObject({ calls: 2 });
    expect(calls()).toBe(asked);
  });

  it('ends a call where it began, when the shared store is back meanwhile', async () => {
    const { store, inner, local, health, fail } = setup();
    fail(true);
    const begun = (await store.apply('r', [runOp.incr('inFlight', 1)], create(1))).after!;
    fail(false);
    health.up = true;
    const ended = await store.apply('r', [runOp.incr('inFlight', -1)], { ifStartedAt: begun.startedAt });
    expect(ended.after!.inFlight).toBe(0);
    expect((await local.get('r'))!.inFlight).toBe(0);
    expect(await inner.get('r')).toBeUndefined();
    // A new call of the run goes to the shared store again.
    await store.apply('r', [runOp.incr('calls', 1)], create(5));
    expect((await inner.get('r'))!.calls).toBe(1);
  });

  it('lists both stores\' runs, the shared store\'s record first where both have one', async () => {
    const { store, health, fail } = setup();
    await store.apply('shared-only', [], create(1));
    await store.apply('both', [runOp.set('lastModel', 'shared')], create(2));
    fail(true);
    await store.apply('local-only', [runOp.set('lastActivity', 10)], create(10));
    await store.apply('both', [runOp.set('lastModel', 'local')], create(3));
    fail(false);
    health.up = true;
    const listed = await store.list(10);
    expect(listed.map((r) => r.id).sort()).toEqual(['both', 'local-only', 'shared-only']);
    expect(listed.find((r) => r.id === 'both')!.lastModel).toBe('shared');
    expect((await store.get('local-only'))!.id).toBe('local-only');
  });
});
