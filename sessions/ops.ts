import { runOp, type RunOp, type RunRecord } from '../state.js';

// The meaning of each RunOp, on a plain record. The in-memory store applies them with this; any
// other store must give the same results (test/sessions/store-contract.ts holds them to it).

type Fields = Record<string, unknown>;

/**
 * Applies ops to a record without changing it: the answer is a new record that shares with the old
 * every list and map the ops left alone. Records are values (readonly to the type checker, never
 * changed once made), so a store hands out the record it keeps, with no copy. (Not frozen: freezing
 * a record of 30 fields costs a microsecond, more than the copy it replaces.)
 */
export function applyOps(record: RunRecord, ops: readonly RunOp[]): { record: RunRecord; results: boolean[] } {
  const r = copyTop(record) as unknown as Fields;
  const results = new Array<boolean>(ops.length); // its exact length at once: pushes grow it twice
  for (let i = 0; i < ops.length; i++) results[i] = applyOp(r, ops[i]!);
  return { record: r as unknown as RunRecord, results };
}

function applyOp(r: Fields, op: RunOp): boolean {
  const { field, key, value } = op;
  switch (op.op) {
    case 'set':
      r[field] = value; // undefined clears: deleting would put the record in V8's slow dictionary mode
      return true;
    case 'setIfUnset':
      if (r[field] !== undefined) return false;
      r[field] = value;
      return true;
    case 'incr':
      r[field] = ((r[field] as number | undefined) ?? 0) + op.by;
      return true;
    case 'add':
      return addUnique(r, field, value as string);
    case 'setIn':
      r[field] = withKey(r[field] as Fields, key!, value);
      return true;
    case 'incrIn': {
      const sum = (((r[field] as Fields | undefined)?.[key!] as number | undefined) ?? 0) + op.by;
      r[field] = withKey(r[field] as Fields, key!, sum > 0 ? sum : undefined);
      return true;
    }
    case 'addIn': {
      const list = (r[field] as Fields | undefined)?.[key!] as readonly string[] | undefined;
      if (list?.includes(value as string)) return false; // the usual case: nothing to copy
      const map: Fields = Object.assign({}, r[field]); // not a spread: ten times as long on Node 20
      map[key!] = sameList(list ?? NO_ITEMS, value as string);
      r[field] = map;
      return true;
    }
    case 'removeIn': {
      const list = (r[field] as Fields | undefined)?.[key!] as string[] | undefined;
      const at = list ? list.indexOf(value as string) : -1;
      if (at < 0) return false;
      r[field] = withKey(r[field] as Fields, key!, list!.length === 1 ? undefined : list!.slice(0, at).concat(list!.slice(at + 1)));
      return true;
    }
    case 'push': {
      const list = (r[field] ?? NO_ITEMS) as unknown[];
      r[field] = (list.length < op.keep ? list : list.slice(list.length - op.keep + 1)).concat([value]);
      return true;
    }
  }
}

// A run's lists and maps until it first has something in them: shared by every record, so a run
// pays only for what it holds (10,000 live runs, most with nothing deferred, nothing in flight).
const NO_ITEMS: readonly never[] = Object.freeze([]);
const NO_KEYS: Readonly<Record<string, never>> = Object.freeze({});

/** Every field of a record, the optional ones too: a copy that forgot one would drop it. */
type AllFields = { [K in RecordKey]: RunRecord[K] | undefined };
type RecordKey = keyof RunRecord;

/**
 * A copy of the record's top level, its lists and maps shared. Field by field, in newRun's order:
 * every record then has one shape with its fields in the object itself. (A spread's copy keeps most
 * in a separate array, and spreading that again took 4x as long.)
 */
function copyTop(r: RunRecord): RunRecord {
  const copy: AllFields = {
    id: r.id, tenant: r.tenant, inferred: r.inferred, startedAt: r.startedAt, lastActivity: r.lastActivity, completed: r.completed, stages: r.stages, backends: r.backends, replicas: r.replicas, calls: r.calls, failedCalls: r.failedCalls,
    lastError: r.lastError, inFlight: r.inFlight, lastBackend: r.lastBackend, lastReplica: r.lastReplica, lastModel: r.lastModel,
    contextTokens: r.contextTokens, contextGrowth: r.contextGrowth, promptTokens: r.promptTokens, cachedTokens: r.cachedTokens, completionTokens: r.completionTokens, costUsd: r.costUsd, toolWaitSince: r.toolWaitSince, traceId: r.traceId,
    inFlightOn: r.inFlightOn, resident: r.resident, unreleased: r.unreleased, deferredFlush: r.deferredFlush, cacheActions: r.cacheActions,
  };
  return copy as RunRecord;
}

export function newRun(id: string, inferred: boolean, now: number): RunRecord {
  // Every field from the start, the optional ones undefined, in copyTop's order: records share one
  // shape and keep their fields in the object itself (a field added later goes to a separate array).
  const run: AllFields = {
    id, tenant: undefined, inferred, startedAt: now, lastActivity: now, completed: undefined, stages: NO_ITEMS, backends: NO_ITEMS, replicas: NO_ITEMS, calls: 0, failedCalls: 0,
    lastError: undefined, inFlight: 0, lastBackend: undefined, lastReplica: undefined, lastModel: undefined,
    contextTokens: 0, contextGrowth: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0, toolWaitSince: undefined, traceId: undefined,
    inFlightOn: NO_KEYS, resident: NO_KEYS, unreleased: NO_KEYS, deferredFlush: NO_KEYS, cacheActions: NO_ITEMS,
  };
  return run as RunRecord;
}

/** The record, ended (by the sweep or an eviction) unless it already was; a new record, as applyOps makes. */
export function endedRun(record: RunRecord, at: number, by: NonNullable<RunRecord['completed']>['by']): RunRecord {
  return record.completed ? record : applyOps(record, [runOp.set('completed', { at, by })]).record;
}

/** A map with `key` set to `value` (undefined: without it): a new map, or the shared empty one when nothing is left. */
function withKey(map: Fields, key: string, value: unknown): Fields {
  const next: Fields = {};
  let size = 0;
  for (const k in map) if (k !== key) next[k] = map[k], size++;
  if (value !== undefined) next[key] = value, size++;
  return size === 0 ? NO_KEYS : next;
}

/** Adds `item` to the list at `owner[key]` unless it is there: the list with it, shared (`sameList`). */
function addUnique(owner: Fields, key: string, item: string): boolean {
  const list = (owner[key] ?? NO_ITEMS) as readonly string[];
  if (list.includes(item)) return false;
  owner[key] = sameList(list, item);
  return true;
}

// Lists never change once made, so runs with the same stages, backends or replicas share one list
// (10,000 live runs of one workflow hold a handful of distinct lists). Short ones only, and a bound.
const SHARED_LISTS = new Map<string, readonly string[]>();
const SHARED_LISTS_MAX = 4096;

/** `list` with `item` added: a list of exactly its length (concat; push() would leave room for 16 more), the same one for the same items. */
function sameList(list: readonly string[], item: string): readonly string[] {
  if (list.length >= 4) return list.concat([item]);
  const key = list.length === 0 ? item : `${list.join('\u0000')}\u0000${item}`;
  let shared = SHARED_LISTS.get(key);
  if (!shared) {
    if (SHARED_LISTS.size >= SHARED_LISTS_MAX) SHARED_LISTS.clear();
    SHARED_LISTS.set(key, (shared = Object.freeze(list.concat([item]))));
  }
  return shared;
}
