import { describe, expect, it, vi } from 'vitest';
import { ClientGone } from '../../cancel.js';
import { validateConfig } from '../../config/load.js';
import { BackendGate } from '../../gateway/workers/backend-gate.js';
import { RemoteBackend } from '../../gateway/workers/remote-backend.js';
import { CircuitBreaker } from '../../routing/circuit.js';
import { createBackends } from '../../routing/registry.js';
import { Replica } from '../../routing/replica.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import type { UpstreamClient } from '../../upstream/clients/types.js';
import { within } from '../helpers/wait.js';
import { rpc } from './fake-objects.js';
import { useFakeClock } from '../helpers/fake-clock.js';

// A Worker's side of a backend whose admission is in its Durable Object: it renews the leases it
// holds while their answers stream, releases each once, and takes a waiting request out of the
// queue when its client leaves. The object's logic is the real one, reached through simulated RPC,
// on a faked clock.

const TTL = 30_000;
const noClient = { url: 'http://replica.test' } as UpstreamClient;

async function remote() {
  const config = validateConfig({ backends: { main: { engine: 'vllm', urls: ['http://replica.test'], max_concurrency: 1, queue_limit: 4 } }, stages: { default: { backend: 'main', model: 'm' } } }, { env: {} });
  const gate = new BackendGate(createBackends(config, (_n, b) => b.urls!, () => noClient, await loadPolicies(config, '.')).get('main')!);
  const replicas = [new Replica('http://replica.test', noClient, new CircuitBreaker(5, 10_000))];
  const sent: Parameters<BackendGate['acquire']>[1][] = [];
  const link = rpc({
    acquire: (_b: string, id: string, t: Parameters<BackendGate['acquire']>[1], ttl: number) => (sent.push(t), gate.acquire(id, t, ttl)),
    leave: async (_b: string, id: string) => gate.leave(id),
    release: async (_b: string, id: string, outcome: 'success' | 'failure' | 'neutral', tokens: number | undefined) => gate.release(id, outcome, tokens),
    renew: async (_b: string, ids: string[], ttl: number) => gate.renew(ids, ttl),
    view: async () => gate.view(),
    setMaxConcurrency: async (_b: string, limit: number) => gate.setMaxConcurrency(limit),
  });
  const backend = new RemoteBackend('main', config.backends.main!, replicas, () => link, { leaseTtlMs: TTL });
  return { gate, backend, sent };
}

const ticket = (signal?: ClientGone) => ({ stage: 'default', run: 'r', priority: 0, promptTokens: 5, signal });

useFakeClock();

describe('a backend whose admission is in a Durable Object, from the Worker', () => {
  it('renews a lease while it is held, so a long answer keeps its slot, and releases it once', async () => {
    const { gate, backend } = await remote();
    const lease = await backend.acquire(ticket());
    expect(lease.replica.url).toBe('http://replica.test');
    await vi.advanceTimersByTimeAsync(TTL * 4); // an answer streaming for two minutes
    expect(gate.held).toBe(1);
    lease.release('success', 10);
    lease.release('success', 10);
    await vi.advanceTimersByTimeAsync(0);
    expect(gate.held).toBe(0);
    expect(backend.replicas[0]!.inFlight).toBe(0); // the object's answer, mirrored
  });

  it('a waiting request whose client leaves leaves the queue', async () => {
    const { gate, backend } = await remote();
    const held = await backend.acquire(ticket());
    const gone = new ClientGone();
    const waiting = backend.acquire(ticket(gone));
    await vi.advanceTimersByTimeAsync(0);
    expect(gate.view().snapshot.waiting).toBe(1);
    gone.abort();
    await expect(within(waiting, 'the waiting request to be answered')).rejects.toMatchObject({ status: 499 });
    expect(gate.view().snapshot.waiting).toBe(0);
    expect(backend.queued).toBe(0);
    held.release('success');
  });

  it('answers a refusal with the OrlaError the object gave', async () => {
    const { backend } = await remote();
    await backend.setMaxConcurrency(1);
    const held = await backend.acquire(ticket());
    const queued = Array.from({ length: 4 }, () => backend.acquire(ticket()));
    await expect(backend.acquire(ticket())).rejects.toMatchObject({ status: 429, code: 'queue_full', retryAfterS: expect.any(Number) });
    expect(backend.queued).toBe(4);
    held.release('success');
    for (const next of queued) (await within(next, 'a queued request to get its slot')).release('success');
  });

  it("sends what the object's order needs: the ticket's stage, run, tenant, priority, and how long it has waited", async () => {
    const { backend, sent } = await remote();
    const lease = await backend.acquire({ stage: 'reply', run: 'acme/t-1', tenant: 'acme', priority: 7, promptTokens: 5, arrivedAt: performance.now() - 250 });
    expect(sent[0]).toMatchObject({ stage: 'reply', run: 'acme/t-1', tenant: 'acme', priority: 7, promptTokens: 5, waitedMs: 250 });
    lease.release('success');
  });
});
