import { afterEach, describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { OrlaError } from '../../errors.js';
import { Backend, Replica, type Lease, type Ticket } from '../../routing/backend.js';
import { replicaPicker } from '../../routing/pickers/index.js';
import type { RequestScheduler } from '../../routing/scheduler/types.js';
import { CircuitBreaker } from '../../routing/circuit.js';
import { fcfsRequest, fcfsStage } from '../../routing/scheduler/policies/fcfs.js';
import { priorityRequest, priorityStage } from '../../routing/scheduler/policies/priority.js';
import type { StageScheduler } from '../../routing/scheduler/types.js';
import type { UpstreamClient } from '../../upstream/clients/types.js';
import { until, within } from '../helpers/wait.js';

// The backend's queue seen from outside: who gets a slot, when, and that every slot comes back.

const idleClient = {} as UpstreamClient;

function backend(options: { max_concurrency?: number; queue_limit?: number; replicas?: number; stage?: StageScheduler; request?: RequestScheduler; circuit?: object } = {}) {
  const config = validateConfig({
    backends: { b: { engine: 'vllm', urls: ['http://x:1'], max_concurrency: options.max_concurrency ?? 1, queue_limit: options.queue_limit ?? 100, circuit: options.circuit ?? {} } },
  }).backends.b!;
  const replicas = Array.from({ length: options.replicas ?? 1 }, (_, i) => new Replica(`http://r${i}`, idleClient, new CircuitBreaker(config.circuit.failures, config.circuit.open_ms)));
  return new Backend('b', config, replicas, {
    stageScheduler: options.stage ?? fcfsStage,
    stagePolicy: () => ({ requestScheduler: options.request ?? fcfsRequest, weight: 1 }),
    picker: replicaPicker({ affinity: true, balance: { margin: 64, factor: 1.5 } }),
    agingMs: 1000,
  });
}

const ticket = (over: Partial<Ticket> = {}): Ticket => ({
  stage: 's', run: undefined, priority: 0, promptTokens: 10, ...over,
});

/** Acquires in order and records the order in which leases are granted. */
function track(b: Backend, tickets: Ticket[], granted: string[]): Promise<Lease>[] {
  return tickets.map((t, i) =>
    b.acquire(t).then((lease) => {
      granted.push(`${t.stage}#${i}`);
      return lease;
    }),
  );
}

/** With one slot: frees it, waits for the next grant, and so on until every lease was granted. */
async function releaseInTurn(holder: Lease, leases: Promise<Lease>[], granted: string[]): Promise<void> {
  let current = holder;
  for (let i = 0; i < leases.length; i++) {
    current.release('success');
    await until(() => granted.length === i + 1, `lease ${i + 1} of ${leases.length} to be granted`);
    current = await leases[Number(granted[i]!.split('#')[1])]!;
  }
}

afterEach(() => vi.useRealTimers());

describe('a backend queue', () => {
  it('dispatches at once while a slot is free, and queues past max_concurrency', async () => {
    const b = backend({ max_concurrency: 2 });
    const first = await b.acquire(ticket());
    await b.acquire(ticket());
    const waiting = b.acquire(ticket());
    expect(b.queued).toBe(1);
    first.release('success');
    const third = await within(waiting, 'the queued request to get the freed slot');
    expect(third.replica.inFlight).toBe(2);
    expect(b.queued).toBe(0);
  });

  it('serves by priority across stages when both levels say so', async () => {
    const b = backend({ stage: priorityStage, request: priorityRequest });
    const holder = await b.acquire(ticket());
    const granted: string[] = [];
    const leases = track(b, [
      ticket({ stage: 'bulk', priority: 5 }),
      ticket({ stage: 'reply', priority: 8 }),
      ticket({ stage: 'bulk', priority: 9 }),
      ticket({ stage: 'reply', priority: 1 }),
    ], granted);
    await releaseInTurn(holder, leases, granted);
    expect(granted).toEqual(['bulk#2', 'reply#1', 'bulk#0', 'reply#3']);
  });

  it('serves fcfs by arrival, whatever the stage', async () => {
    const b = backend();
    const holder = await b.acquire(ticket());
    const granted: string[] = [];
    const leases = track(b, [ticket({ stage: 'a' }), ticket({ stage: 'b' }), ticket({ stage: 'a' })], granted);
    await releaseInTurn(holder, leases, granted);
    expect(granted).toEqual(['a#0', 'b#1', 'a#2']);
  });

  it('answers 429 with a Retry-After once queue_limit requests wait', async () => {
    const b = backend({ queue_limit: 2 });
    await b.acquire(ticket());
    b.acquire(ticket()).catch(() => {});
    b.acquire(ticket()).catch(() => {});
    const err = await b.acquire(ticket()).catch((e: OrlaError) => e);
    expect(err).toBeInstanceOf(OrlaError);
    expect((err as OrlaError).status).toBe(429);
    expect((err as OrlaError).headers()['retry-after']).toMatch(/^\d+$/);
  });

  it('gives up on a request not dispatched within its deadline, with 408, and frees its place', async () => {
    vi.useFakeTimers();
    const b = backend();
    const holder = await b.acquire(ticket());
    const late = b.acquire(ticket({ deadlineMs: 500 })).catch((e: OrlaError) => e);
    await vi.advanceTimersByTimeAsync(500);
    expect(((await late) as OrlaError).status).toBe(408);
    expect(b.queued).toBe(0);
    holder.release('success');
    expect(holder.replica.inFlight).toBe(0);
  });

  it('counts the deadline from the request\'s arrival, not from when it joined the queue', async () => {
    vi.useFakeTimers();
    const b = backend();
    const spent = await b.acquire(ticket({ deadlineMs: 500, arrivedAt: performance.now() - 500 })).catch((e: OrlaError) => e);
    expect((spent as OrlaError).status).toBe(408); // spent before it got here, though a slot is free
    const holder = await b.acquire(ticket());
    const late = b.acquire(ticket({ deadlineMs: 500, arrivedAt: performance.now() - 300 })).catch((e: OrlaError) => e);
    await vi.advanceTimersByTimeAsync(200);
    expect(((await late) as OrlaError).status).toBe(408);
    holder.release('success');
  });

  it('drops a queued request whose client left: it never gets a slot', async () => {
    const b = backend();
    const holder = await b.acquire(ticket());
    const controller = new AbortController();
    const gone = b.acquire(ticket({ signal: controller.signal })).catch((e: OrlaError) => e);
    const next = b.acquire(ticket({ stage: 'next' }));
    controller.abort();
    expect(((await gone) as OrlaError).status).toBe(499);
    holder.release('success');
    const lease = await next;
    expect(lease.replica.inFlight).toBe(1);
    lease.release('success');
    expect(b.snapshot()).toMatchObject({ waiting: 0, replicas: [{ in_flight: 0 }] });
  });

  it('dispatches waiting requests at once when max_concurrency is raised at run time', async () => {
    const b = backend({ max_concurrency: 1 });
    await b.acquire(ticket());
    const waiting = [b.acquire(ticket()), b.acquire(ticket())];
    b.setMaxConcurrency(3);
    const leases = await Promise.all(waiting);
    expect(leases.map((l) => l.replica.inFlight)).toEqual([3, 3]);
    expect(b.queued).toBe(0);
  });

  it('opens a failing replica\'s circuit (503 with Retry-After), then lets one probe through', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    const b = backend({ max_concurrency: 5, circuit: { failures: 2, open_ms: 1000 } });
    for (let i = 0; i < 2; i++) (await b.acquire(ticket())).release('failure');
    const refused = (await b.acquire(ticket()).catch((e) => e)) as OrlaError;
    expect(refused.status).toBe(503);
    expect(refused.headers()['retry-after']).toBe('1');
    expect(b.circuitOpen()).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    const probe = await b.acquire(ticket());
    const waiting = b.acquire(ticket());
    expect(b.snapshot()).toMatchObject({ waiting: 1, replicas: [{ in_flight: 1, circuit: 'half-open' }] }); // only the probe goes
    probe.release('success');
    await within(waiting, 'the queued request to follow the successful probe');
    expect(b.snapshot().replicas[0]!.circuit).toBe('closed');
  });

  it('lets the next queued request probe when the probe is released neutral (client left)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    const b = backend({ max_concurrency: 5, circuit: { failures: 2, open_ms: 1000 } });
    for (let i = 0; i < 2; i++) (await b.acquire(ticket())).release('failure');
    await vi.advanceTimersByTimeAsync(1000);
    const probe = await b.acquire(ticket());
    const waiting = b.acquire(ticket());
    expect(b.snapshot()).toMatchObject({ waiting: 1, replicas: [{ in_flight: 1, circuit: 'half-open' }] });
    probe.release('neutral');
    const second = await within(waiting, 'the queued request to probe in its place'); // not stuck behind a probe that never reports
    expect(b.snapshot()).toMatchObject({ waiting: 0, replicas: [{ in_flight: 1, circuit: 'half-open' }] });
    second.release('success');
    expect(b.snapshot().replicas[0]!.circuit).toBe('closed');
  });

  it('prefers another replica for a retry', async () => {
    const b = backend({ max_concurrency: 5, replicas: 2 });
    const first = await b.acquire(ticket());
    first.release('failure');
    const retry = await b.acquire(ticket({ avoid: first.replica }));
    expect(retry.replica).not.toBe(first.replica);
  });
});
