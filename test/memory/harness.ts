import { validateConfig } from '../../config/load.js';
import { memoryBackend } from '../../gateway/core.js';
import { Memory, type CachePlan } from '../../memory/index.js';
import type { Backend } from '../../routing/backend.js';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import { identify } from '../../sessions/identity.js';
import { MemoryRunStore } from '../../sessions/memory-store.js';
import { beginOps, endOps, Runs } from '../../sessions/runs.js';
import type { RunRecord } from '../../state.js';
import { UndiciUpstream } from '../../upstream/clients/undici.js';
import type { CacheAdapter, EngineCall, ReleaseContext } from '../../upstream/engines/index.js';

// Sessions and memory driven by hand, the way the gateway's pipeline drives them (gateway/proxy.ts
// begins a call, gateway/settle.ts ends it), without HTTP: the store's clock is injected, adapters
// answer in process, and nothing waits on real time.

export const TTL_MS = 60_000;

export interface Gate {
  open(): void;
  wait: Promise<void>;
}
export const gate = (): Gate => {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { open, wait };
};

/** An adapter that records each release (run@replica, and its context) and answers ok, once `held` opens. */
export function recordingAdapter(log: string[], contexts: ReleaseContext[], held?: { gate: Gate | undefined }): CacheAdapter {
  return {
    tagRequest: () => ({}),
    async releaseRun(run, replica, context) {
      log.push(`${run}@${replica.url}`);
      contexts.push(context);
      if (held?.gate) await held.gate.wait;
      return { action: 'session_flush', result: 'ok' };
    },
  };
}

/** A call in flight: its plan and the run's record as the call began on it. */
export interface Begun {
  plan: CachePlan;
  run: RunRecord;
}

export interface SetupOptions {
  backends?: Record<string, object>;
  /** Each backend's adapter; default a recording one. */
  adapterOf?: (name: string, log: string[], contexts: ReleaseContext[], call: EngineCall) => CacheAdapter;
  policy?: string;
  maxRuns?: number;
  memory?: object;
}

export async function setup(options: SetupOptions = {}) {
  const backendsConfig = options.backends ?? { light: { engine: 'simulator', urls: ['http://light.test'] }, heavy: { engine: 'simulator', urls: ['http://heavy.test'], kv_capacity_tokens: 1000 } };
  const names = Object.keys(backendsConfig);
  const config = validateConfig(
    {
      backends: backendsConfig,
      stages: {
        classify: { backend: names[0]! },
        a: { backend: names.at(-1)! },
        b: { backend: names.at(-1)! },
        agent: { backend: names.at(-1)!, cache: 'flush' },
        default: { backend: names.at(-1)! },
      },
      memory: { policy: options.policy ?? 'flush-per-workflow', max_runs: options.maxRuns ?? 100, pressure: { interval_ms: 0, high: 0.9, low: 0.5 }, ...options.memory },
    },
    { env: {} },
  );
  const backends = createBackends(config, (_n, b) => b.urls!, (url, t) => new UndiciUpstream(url, t), await loadPolicies(config, '.'));
  const log: string[] = [];
  const contexts: ReleaseContext[] = [];
  const held: { gate: Gate | undefined } = { gate: undefined };
  const clock = { now: Date.now() }; // the pressure rule reads the real clock
  let memory!: Memory;
  const store = new MemoryRunStore({ maxRuns: config.memory.max_runs, idleTtlMs: TTL_MS, onExpired: (run, why) => memory.ended(run, why), now: () => clock.now });
  const runs = new Runs(store);
  memory = new Memory(config, [...backends.values()].map(memoryBackend), store, {}, (b) =>
    options.adapterOf ? options.adapterOf(b.name, log, contexts, b.call) : recordingAdapter(log, contexts, held),
  );
  const backend = (name: string): Backend => backends.get(name)!;

  /** A call of `run` on `stage` begins (gateway/proxy.ts). */
  const begin = async (run: string, stage: string, headers: Record<string, string> = {}): Promise<Begun> => {
    const identity = identify({ 'x-orla-workflow-run': run, 'x-orla-stage': stage, ...headers }, { messages: [{ role: 'user', content: 'x' }] });
    const backendName = config.stages[stage]!.backend!;
    const begun = await runs.begin(run, identity, [...beginOps(identity, 'm', clock.now), ...memory.beginOps(backendName)], clock.now);
    const plan = memory.plan({ run: begun, backend: backendName, stage, configuredStage: stage, cache: identity.cache, workflowDone: identity.workflowDone }, clock.now);
    return { plan, run: begun };
  };

  /** The call ends (gateway/settle.ts): served `tokens` on `replica` (default the backend's first), or failed. */
  const end = async (call: Begun, tokens: number | 'failed', options: { toolCalls?: boolean; replica?: string } = {}) => {
    const { plan } = call;
    const served = tokens === 'failed' ? undefined : { replica: options.replica ?? backend(plan.backend).replicas[0]!.url, promptTokens: tokens, cachedTokens: 0, completionTokens: 0, costUsd: 0, toolCalls: options.toolCalls ?? false };
    const mem = memory.endOps(plan, { replica: served?.replica, tokens: served?.promptTokens ?? 0, toolCalls: served?.toolCalls ?? false }, clock.now);
    const failure = served ? undefined : { status: 502, message: 'the engine failed' };
    const { after, endedRun } = await runs.end(call.run, [...mem.ops, ...endOps({ now: clock.now, backend: plan.backend, stage: plan.stage, served, failure, contextBefore: plan.contextBefore, workflowDone: plan.workflowDone })]);
    memory.after(plan, mem.releases, after, endedRun);
    return after;
  };

  /** POST /v1/workflows/{run}/complete (gateway/workflows-api.ts). */
  const complete = async (id: string) => {
    const { run, endedRun } = await runs.complete(id, clock.now);
    if (run && endedRun) memory.ended(run, 'client');
    return run;
  };

  /** Releases run off the call's path: resolves once every one under way has finished. */
  const settle = () => memory.settled();

  return { config, backends, backend, store, runs, memory, begin, end, complete, settle, log, contexts, clock, held };
}

