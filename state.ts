// The run state every step of the request path shares, as plain data, and the store that holds it.
// sessions/ owns the runs (their lifecycle, accounting and the store); memory/ writes its own facts
// about a run's cache into the same record. A store implements a handful of explicit operations on
// such records, so an in-memory store, Redis and a Durable Object can each hold them.

import type { CacheResult } from './upstream/engines/types.js';

export interface CacheActionRecord {
  at: number;
  backend: string;
  replica: string;
  action: string;
  result: CacheResult;
  reason: string;
  detail?: string | undefined;
}

/** A flush hint put off while its stage's agent loop waits on a tool (memory/). */
export interface DeferredFlush {
  reason: string;
  backend: string;
  replicas: readonly string[];
}

export type CompletedBy = 'client' | 'workflow-done' | 'idle' | 'evicted';

export interface RunRecord {
  /** The store's key: the run id the client gave, after its tenant's name and a `/` when it has one. */
  readonly id: string;
  /** The tenant the run belongs to (with authentication on). */
  readonly tenant?: string;
  /** Inferred from the conversation root rather than tagged. */
  readonly inferred: boolean;
  /** When this record began: a run id that comes back after its idle TTL is a new record, with a new start. */
  readonly startedAt: number;
  readonly lastActivity: number;
  /** Set once, by whichever ends the run first; a later call makes the run active again. */
  readonly completed?: { at: number; by: CompletedBy };
  readonly stages: readonly string[];
  readonly backends: readonly string[];
  readonly replicas: readonly string[];
  readonly calls: number;
  /** Calls that failed (the engine's error, a timeout, a rejection; not a client that left). */
  readonly failedCalls: number;
  readonly lastError?: { at: number; stage: string; backend: string; status: number; message: string };
  readonly inFlight: number;
  readonly lastBackend?: string;
  readonly lastReplica?: string;
  /** The model of the latest call (Ollama unloads by model). */
  readonly lastModel?: string;
  /** Prompt tokens of the latest call, and how much that grew from the call before. */
  readonly contextTokens: number;
  readonly contextGrowth: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly completionTokens: number;
  readonly costUsd: number;
  /** Set while the latest response ended in tool calls and no call has come since: the run waits on a tool. */
  readonly toolWaitSince?: number;
  /** With tracing on: the trace its latest call belongs to (derived from the run's id, or the client's traceparent). */
  readonly traceId?: string;

  // memory/'s facts about the run's cache.
  /** Per backend: this run's calls planned there and not over yet. */
  readonly inFlightOn: Readonly<Record<string, number>>;
  /** Per replica URL: the tokens of this run Orla believes are still cached there (the ledger). */
  readonly resident: Readonly<Record<string, number>>;
  /** Per backend: the replicas where the run may hold something not released yet (tagged, or left tokens). */
  readonly unreleased: Readonly<Record<string, readonly string[]>>;
  /** Per stage: a flush hint put off while that stage's agent loop waits on a tool. */
  readonly deferredFlush: Readonly<Record<string, DeferredFlush>>;
  readonly cacheActions: readonly CacheActionRecord[];
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json } | object;

/**
 * One change to a record, meaningful without reading it first (so a store applies a list of them in
 * one round trip). `field` names a top-level field; `key` a key of a map field; lists never hold
 * duplicates; a `value` of `undefined` clears. Build them with `runOp`: every op then has one shape,
 * which keeps applying them fast (a store reads many on every request).
 */
export interface RunOp {
  op: 'set' | 'setIfUnset' | 'incr' | 'add' | 'setIn' | 'incrIn' | 'addIn' | 'removeIn' | 'push';
  field: string;
  key: string | undefined;
  /** The value set, or the item added, removed or pushed. */
  value: Json | undefined;
  /** What `incr` and `incrIn` add. */
  by: number;
  /** How many items `push` keeps. */
  keep: number;
}

const op = (kind: RunOp['op'], field: string, key: string | undefined, value: Json | undefined, by = 0, keep = 0): RunOp => ({ op: kind, field, key, value, by, keep });

export const runOp = {
  set: (field: string, value: Json | undefined) => op('set', field, undefined, value),
  /** Sets the field only if it is unset; its result says whether it did. */
  setIfUnset: (field: string, value: Json) => op('setIfUnset', field, undefined, value),
  incr: (field: string, by: number) => op('incr', field, undefined, undefined, by),
  add: (field: string, item: string) => op('add', field, undefined, item),
  setIn: (field: string, key: string, value: Json | undefined) => op('setIn', field, key, value),
  /** A number in a map; a key that comes to 0 or less is deleted. */
  incrIn: (field: string, key: string, by: number) => op('incrIn', field, key, undefined, by),
  addIn: (field: string, key: string, item: string) => op('addIn', field, key, item),
  /** Removes an item from a map's list (an emptied list's key goes); its result says whether it was there. */
  removeIn: (field: string, key: string, item: string) => op('removeIn', field, key, item),
  /** Appends to a list, keeping its last `keep` items. */
  push: (field: string, item: Json, keep: number) => op('push', field, undefined, item, 0, keep),
};

export interface Applied {
  /** The record as it is after the operations; undefined where there is none. */
  after: RunRecord | undefined;
  /** Per operation: whether it changed something (what `setIfUnset` and `removeIn` answer). */
  results: boolean[];
}

export interface ApplyOptions {
  /**
   * Create the run when it is absent, or when it is past its idle TTL (the old record then ends
   * through `onExpired`, as the sweep would end it, and the new one starts from `now`).
   */
  create?: { inferred: boolean; now: number };
  /** Apply only to the record that began at this time: a later record under the same id is another run. */
  ifStartedAt?: number;
}

/** Where runs live. Each method is one round trip to a shared store. */
export interface RunStore {
  apply(id: string, ops: readonly RunOp[], options?: ApplyOptions): Promise<Applied>;
  get(id: string): Promise<RunRecord | undefined>;
  /** Most recently active first; only `tenant`'s runs when one is named. */
  list(limit: number, tenant?: string): Promise<RunRecord[]>;
  /** The runs Orla believes hold tokens on a replica (the ledger behind the pressure rule and global flushes). */
  runsOn(replica: string): Promise<RunRecord[]>;
  /**
   * Optional, what a release asks before each call: whether a run other than `run`, not completed,
   * holds tokens on the replica. Without it the answer comes from `runsOn` (a copy of every such run).
   */
  othersActiveOn?(replica: string, run: string): Promise<boolean>;
  /** Ends the runs idle past the TTL (each through `onExpired`, once). */
  sweep(now: number): Promise<void>;
  close(): Promise<void>;
}

/** What a store tells its owner: a run was dropped, idle past the TTL or evicted for room (the record is the owner's now). */
export type OnExpired = (run: RunRecord, why: 'idle' | 'evicted') => void;
