import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../config/load.js';
import { llamacppAdapter } from '../../memory/engines/llamacpp.js';
import { sglangAdapter } from '../../memory/engines/sglang.js';
import { MemoryManager, type Plan } from '../../memory/manager.js';
import { PressureMonitor } from '../../memory/pressure.js';
import type { EngineAdapter, EngineCall, ReleaseContext } from '../../memory/types.js';
import type { Backend, Replica } from '../../routing/backends.js';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import { UndiciUpstream } from '../../routing/upstream/undici.js';
import { identify } from '../../sessions/identity.js';
import { MemorySessionStore } from '../../sessions/runs.js';
import { until } from '../helpers/wait.js';

// The ledger and the release rules over a run's life, driven by hand: the store's clock is injected,
// adapters answer in process (a gate holds their releases when a test needs them late), and nothing
// waits on real time.

const TTL_MS = 60_000;
const LIGHT = 'http://light.test';
const HEAVY = 'http://heavy.test';

interface Gate {
  open(): void;
  wait: Promise<void>;
}
const gate = (): Gate => {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { open, wait };
};

/** An adapter that records each release (run, replica, reason-free context) and answers ok, once `held` opens. */
function recordingAdapter(log: string[], contexts: ReleaseContext[], held?: { gate: Gate | undefined }): EngineAdapter {
  return {
    engine: 'simulator',
    tagRequest() {},
    async releaseRun(run, replica, context) {
      log.push(`${run}@${replica.url}`);
      contexts.push(context);
      if (held?.gate) await held.gate.wait;
      return { action: 'session_flush', result: 'ok' };
    },
  };
}

async function setup(
  backendsConfig: Record<string, object> = { light: { engine: 'simulator', urls: [LIGHT] }, heavy: { engine: 'simulator', urls: [HEAVY], kv_capacity_tokens: 1000 } },
  adapterOf?: (name: string, log: string[], contexts: ReleaseContext[]) => EngineAdapter,
  policy = 'flush-per-workflow',
) {
  const config = validateConfig(
    {
      backends: backendsConfig,
      stages: {
        classify: { backend: Object.keys(backendsConfig)[0]! },
        a: { backend: Object.keys(backendsConfig).at(-1)! },
        b: { backend: Object.keys(backendsConfig).at(-1)! },
        agent: { backend: Object.keys(backendsConfig).at(-1)!, cache: 'flush' },
        default: { backend: Object.keys(backendsConfig).at(-1)! },
      },
      memory: { policy, pressure: { interval_ms: 0, high: 0.9, low: 0.5 } },
    },
    { env: {} },
  );
  const backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new UndiciUpstream(url, t), await loadPolicies(config, '.'));
  const log: string[] = [];
  const contexts: ReleaseContext[] = [];
  const held: { gate: Gate | undefined } = { gate: undefined };
  const adapters = new Map<string, EngineAdapter>(
    [...backends.keys()].map((name) => [name, adapterOf ? adapterOf(name, log, contexts) : recordingAdapter(log, contexts, held)]),
  );
  const clock = { now: 1_000 };
  let manager!: MemoryManager;
  const store = new MemorySessionStore({ maxRuns: 100, idleTtlMs: TTL_MS, expired: (run, why) => manager.expired(run, why), now: () => clock.now });
  manager = new MemoryManager(config, store, backends, adapters);
  const plan = (run: string, stage: string, headers: Record<string, string> = {}) => {
    const backend = backends.get(config.stages[stage]!.backend!)!;
    return manager.plan(identify({ 'x-orla-workflow-run': run, 'x-orla-stage': stage, ...headers }, { messages: [{ role: 'user', content: 'x' }] }), backend, stage, 'm')!;
  };
  const done = (p: Plan, tokens: number, options: { toolCalls?: boolean; replica?: Replica } = {}) =>
    manager.completed(p, {
      replica: options.replica ?? p.backend.replicas[0]!,
      promptTokens: tokens,
      cachedTokens: 0,
      completionTokens: 0,
      costUsd: 0,
      toolCalls: options.toolCalls ?? false,
    });
  const backend = (name: string): Backend => backends.get(name)!;
  return { config, backends, adapters, manager, store, plan, done, log, contexts, clock, held, backend };
}

// A release reaches its adapter at once (the adapters here log each as it is asked for: asserting on
// `log`, `contexts` or the engine calls needs no wait); what the manager makes of the answer (the
// run's cache actions, the ledger) follows when the adapter has answered: wait for it.
const recorded = (run: { id: string; cacheActions: unknown[] }, count: number) =>
  until(() => run.cacheActions.length >= count, `${count} cache action(s) recorded for run ${run.id}`);

describe('a run that calls again after its idle TTL, before the sweep', () => {
  it('is a fresh run whose tokens the ledger counts, even when the expiry\'s release ends after the call', async () => {
    const { manager, store, plan, done, log, clock, held, backends, adapters, config } = await setup();
    const first = plan('r', 'a');
    done(first, 100);
    clock.now += TTL_MS + 1;
    held.gate = gate(); // the expiry's release is slow
    const back = plan('r', 'a'); // ends the old run (idle), starts a fresh one
    expect(log).toEqual([`r@${HEAVY}`]);
    expect(first.run.completedBy).toBe('idle');
    expect(back.run.completedAt).toBeUndefined();
    done(back, 950);
    held.gate.open();
    await recorded(first.run, 1); // the old record's late release is over

    expect(store.get('r')).toBe(back.run);
    expect(back.run.resident[HEAVY]).toBe(950);
    expect(manager.runsCachedOn(HEAVY)).toEqual([back.run]);

    // The pressure rule sees it (950 of 1000 tokens: above the high watermark) and reclaims it.
    held.gate = undefined;
    log.length = 0;
    await new PressureMonitor(config, backends, adapters, manager).tick();
    expect(log).toEqual([`r@${HEAVY}`]);
  });

  it('the old record\'s late release leaves alone the new record that has its id (engines know runs by id)', async () => {
    const engineCalls: string[] = [];
    const call: EngineCall = async (url, request) => {
      engineCalls.push(`${url} ${request.method} ${request.path}`);
      return { status: 200, text: '{}' };
    };
    const { manager, plan, done, clock, backend } = await setup({ l: { engine: 'llamacpp', urls: ['http://a.test'], slots: 4 } }, () => llamacppAdapter(call, 4));
    const replica = backend('l').replicas[0]!;
    const old = plan('r', 'default');
    manager.tag(old, replica, {}, {}); // a long call, in flight past the idle TTL
    clock.now += TTL_MS + 1;
    const fresh = plan('r', 'default'); // the run calls again: a new record
    const body: Record<string, unknown> = {};
    manager.tag(fresh, replica, body, {});
    await recorded(old.run, 1); // the expiry's release
    engineCalls.length = 0;
    done(old, 500); // the old call ends while the new one runs
    await recorded(old.run, 2);
    expect(engineCalls).toEqual([]); // the new record's slot is not erased under it
    expect(old.run.cacheActions.at(-1)).toMatchObject({ result: 'skipped', detail: 'a newer run with this id is live' });
    const next: Record<string, unknown> = {};
    manager.tag(fresh, replica, next, {});
    expect(next.id_slot).toBe(body.id_slot);
  });

  it('counts for other runs\' release decisions (othersCached)', async () => {
    const { manager, plan, done, contexts, clock } = await setup();
    done(plan('r', 'a'), 100);
    clock.now += TTL_MS + 1;
    done(plan('r', 'a'), 500);
    done(plan('other', 'a'), 10);
    contexts.length = 0;
    manager.complete('other');
    expect(contexts).toEqual([expect.objectContaining({ othersCached: true })]);
  });
});

describe('X-Orla-Workflow-Done on a call that fails', () => {
  it('still ends the run and releases what it holds', async () => {
    const { manager, plan, done, log } = await setup();
    done(plan('r', 'a'), 100);
    const last = plan('r', 'b', { 'x-orla-workflow-done': 'true' });
    manager.completed(last, undefined);
    await recorded(last.run, 1);
    expect(last.run).toMatchObject({ completedBy: 'workflow-done', inFlight: 0 });
    expect(log).toEqual([`r@${HEAVY}`]);
    expect(last.run.cacheActions.map((a) => a.reason)).toEqual(['completed:workflow-done']);
    expect(manager.runsCachedOn(HEAVY)).toEqual([]);
  });
});

describe('the backend-switch rule with parallel stages', () => {
  it('releases the old backend once when two sibling stages start on another one', async () => {
    const { plan, done, log, manager } = await setup();
    done(plan('r', 'classify'), 100); // light
    const a = plan('r', 'a'); // heavy
    const b = plan('r', 'b'); // heavy, while "a" runs
    await recorded(a.run, 1);
    expect(log).toEqual([`r@${LIGHT}`]);
    expect(a.run.cacheActions.map((x) => `${x.backend} ${x.reason}`)).toEqual(['light backend-switch']);
    expect(manager.header(a, a.backend.replicas[0]!)).toContain('released=light');
    expect(manager.header(b, b.backend.replicas[0]!)).not.toContain('released=');
  });

  it('never releases a backend where a call of the run is still in flight; does once it is over', async () => {
    const { plan, done, log } = await setup();
    done(plan('r', 'a'), 100); // heavy
    const onHeavy = plan('r', 'a'); // in flight on heavy
    const onLight = plan('r', 'classify'); // a sibling on light
    expect(log).toEqual([]);
    expect(onLight.leaving).toBeUndefined();
    done(onHeavy, 200);
    done(onLight, 50);
    const next = plan('r', 'classify'); // nothing of the run on heavy any more: it has moved on
    expect(next.leaving).toBe('heavy');
    expect(log).toEqual([`r@${HEAVY}`]);
  });
});

describe('a flush hint in an agent loop', () => {
  it('waits while the stage waits on a tool, and releases when its loop ends', async () => {
    const { plan, done, log } = await setup();
    done(plan('r', 'agent'), 100, { toolCalls: true });
    done(plan('r', 'agent'), 200, { toolCalls: true });
    expect(log).toEqual([]); // the next turn extends this context
    const last = plan('r', 'agent');
    expect(last.decision).toBe('release');
    done(last, 300);
    await recorded(last.run, 1);
    expect(log).toEqual([`r@${HEAVY}`]);
    expect(last.run.cacheActions.map((a) => a.reason)).toEqual(['hint=flush']);
  });

  it('a request\'s X-Orla-Cache: flush on a tool turn is carried out when the stage\'s next turn ends without tools', async () => {
    const { plan, done, log } = await setup();
    done(plan('r', 'a', { 'x-orla-cache': 'flush' }), 100, { toolCalls: true });
    expect(log).toEqual([]);
    const next = plan('r', 'a'); // the agent did not repeat the header
    expect(next.decision).toBe('preserve');
    done(next, 200);
    expect(log).toEqual([`r@${HEAVY}`]);
  });

  it('never puts off the flush-per-request policy: a tool turn after a deferred hint releases both', async () => {
    const { plan, done, log } = await setup(undefined, undefined, 'flush-per-request');
    done(plan('r', 'a', { 'x-orla-cache': 'flush' }), 100, { toolCalls: true });
    expect(log).toEqual([]); // the hinted flush waits out the loop
    const next = plan('r', 'a');
    expect(next.reason).toBe('policy=flush-per-request');
    done(next, 200, { toolCalls: true }); // the policy's release is not put off
    expect(log).toEqual([`r@${HEAVY}`]);
  });
});

describe('releases cover every replica a run was tagged on', () => {
  const twoReplicas = { l: { engine: 'llamacpp', urls: ['http://a.test', 'http://b.test'], slots: 1 } };

  it('llama.cpp: a failed-over attempt leaves no slot assignment behind to block other runs\' erases', async () => {
    const engineCalls: string[] = [];
    const call: EngineCall = async (url, request) => {
      engineCalls.push(`${url} ${request.method} ${request.path}`);
      return { status: 200, text: '{}' };
    };
    const { manager, plan, done, backend } = await setup(twoReplicas, () => llamacppAdapter(call, 1));
    const [a, b] = backend('l').replicas as [Replica, Replica];
    const retried = plan('ghost', 'default');
    manager.tag(retried, a, {}, {}); // the attempt on a fails, dispatch retries on b
    manager.tag(retried, b, {}, {});
    done(retried, 100, { replica: b });
    const failed = plan('failed', 'default');
    manager.tag(failed, a, {}, {}); // the whole call fails
    manager.completed(failed, undefined);
    manager.complete('ghost');
    manager.complete('failed');
    await recorded(retried.run, 2);
    await recorded(failed.run, 1);
    expect(engineCalls.sort()).toEqual(['http://a.test POST /slots/0?action=erase', 'http://b.test POST /slots/0?action=erase']);

    // Another run on a: its slot is its own, and its erase is not skipped as shared with a ghost.
    engineCalls.length = 0;
    const real = plan('real', 'default');
    manager.tag(real, a, {}, {});
    done(real, 100, { replica: a });
    manager.complete('real');
    await recorded(real.run, 1);
    expect(engineCalls).toEqual(['http://a.test POST /slots/0?action=erase']);
    expect(real.run.cacheActions.at(-1)).toMatchObject({ action: 'slot_erase', result: 'ok' });
  });

  it('SGLang: closes the sessions of an attempt that failed over, and flushes nothing globally where the run left no tokens', async () => {
    const engineCalls: string[] = [];
    const call: EngineCall = async (url, request) => {
      engineCalls.push(`${url} ${request.path} ${JSON.stringify(request.body ?? null)}`);
      return { status: 200, text: '' };
    };
    const { manager, plan, done, backend } = await setup({ s: { engine: 'sglang', urls: ['http://a.test', 'http://b.test'] } }, () => sglangAdapter(call));
    const [a, b] = backend('s').replicas as [Replica, Replica];
    const withSession = plan('sess', 'default');
    manager.tag(withSession, a, { session_id: 'sid-1' }, {});
    manager.tag(withSession, b, { session_id: 'sid-1' }, {});
    done(withSession, 100, { replica: b });
    const plain = plan('plain', 'default');
    manager.tag(plain, a, {}, {}); // no session; the attempt failed
    manager.completed(plain, undefined);
    manager.complete('sess');
    manager.complete('plain');
    expect(engineCalls.sort()).toEqual(['http://a.test /close_session {"session_id":"sid-1"}', 'http://b.test /close_session {"session_id":"sid-1"}']);
  });
});
