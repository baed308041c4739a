// What Orla knows of each engine, in one module per engine (upstream/engines/<engine>.ts): how it
// orders priorities, which request fields it reads, how to probe it, the model names it answers to,
// and what it offers to keep or free one run's KV cache.

export const ENGINES = ['vllm', 'sglang', 'llamacpp', 'ollama', 'openai', 'simulator'] as const;
export type EngineKind = (typeof ENGINES)[number];

export type PriorityOrder = 'higher_first' | 'lower_first';

export interface Engine {
  readonly kind: EngineKind;
  /** The cheapest request it answers when it can serve (readiness). */
  readonly probePath: string;
  /** Its order of `priority` under priority scheduling; absent: it has none, and never gets the field. */
  readonly priority?: { readonly order: PriorityOrder; /** No flag changes it (vLLM). */ readonly fixed?: boolean };
  /** The request fields it reads of those only some engines read (ENGINE_ONLY_FIELDS). */
  readonly fields: readonly string[];
  /** Whether it answers to `model`, given the ids its /v1/models lists. */
  serves(listed: readonly string[], model: string): boolean;
  /** Its cache controls, for one backend. */
  cache(options: CacheOptions): CacheAdapter;
}

export interface CacheOptions {
  call: EngineCall;
  /** llama.cpp: the backend's configured slot count. */
  slots?: number | undefined;
}

export type CacheResult = 'ok' | 'refused' | 'unsupported' | 'failed' | 'skipped';

export interface ActionResult {
  action: string;
  result: CacheResult;
  detail?: string | undefined;
  /** The action dropped the replica's whole cache (every run's prefix there), not only this run's. */
  wholeReplica?: boolean;
}

export interface ReplicaRef {
  url: string;
  /** Requests in flight on this replica right now, all runs together. */
  inFlight: number;
}

export interface ReleaseContext {
  /** Other requests are in flight on the replica: a global flush must never run then. */
  othersInFlight: boolean;
  /** Other runs have prefixes cached there (Orla's ledger): a global flush would wipe them. */
  othersCached: boolean;
  /** The release is the pressure rule's: wiping others' idle prefixes is then the point. */
  underPressure: boolean;
  /** The model of the run's latest call (Ollama unloads by model). */
  model?: string | undefined;
  /**
   * The run was only tagged on the replica (an attempt that failed or was retried elsewhere): the
   * ledger shows none of its tokens there. Its slot is still freed; a global flush would free
   * nothing of the run.
   */
  onlyTagged?: boolean;
}

/** Whether a global flush may run: the run left tokens, nothing is in flight, and no other run's prefix is lost unless memory is short. */
export const globalFlushAllowed = (c: ReleaseContext) => !c.onlyTagged && !c.othersInFlight && (!c.othersCached || c.underPressure);

/** Fields and headers a request carries for its run's cache, and what to do once it has ended (its slot is free again). */
export interface RequestTags {
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  ended?: () => void;
}

/** What an engine allows for one run's cache. */
export interface CacheAdapter {
  /** What makes the run's cache addressable on a replica (a session, a slot), for one request there. */
  tagRequest?(run: string, replica: string): RequestTags | undefined;
  /** Frees what the engine holds of `run` on `replica`, as far as the engine allows. */
  releaseRun(run: string, replica: ReplicaRef, context: ReleaseContext): Promise<ActionResult>;
  /** The run is over but its cache is kept: Orla forgets what it assigned the run (a slot), touching nothing on the engine. */
  forget?(run: string, replica: string): void;
  /** The engine's KV usage, 0..1, if it reports one. */
  usage?(replica: string): Promise<number | undefined>;
}

/** How an adapter talks to a replica: the backend's upstream client, with its key (`admin`: its admin key, if it has one). */
export type EngineCall = (
  replica: string,
  request: { method: 'GET' | 'POST'; path: string; body?: unknown; timeoutMs?: number; admin?: boolean },
) => Promise<{ status: number; text: string }>;
