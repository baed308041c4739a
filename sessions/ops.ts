import type { RunOp, RunRecord } from '../state.js';

// The meaning of each RunOp, on a plain record. The in-memory store applies them with this; any
// other store must give the same results (test/sessions/store-contract.ts holds them to it).

type Fields = Record<string, unknown>;

export function applyOps(record: RunRecord, ops: readonly RunOp[]): boolean[] {
  const r = record as unknown as Fields;
  const results: boolean[] = [];
  for (const op of ops) results.push(applyOp(r, op));
  return results;
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
    case 'setIn': {
      const map = mapAt(r, field);
      if (value === undefined) delete map[key!];
      else map[key!] = value;
      return true;
    }
    case 'incrIn': {
      const map = mapAt(r, field);
      const sum = ((map[key!] as number | undefined) ?? 0) + op.by;
      if (sum > 0) map[key!] = sum;
      else delete map[key!];
      return true;
    }
    case 'addIn':
      return addUnique(mapAt(r, field), key!, value as string);
    case 'removeIn': {
      const map = mapAt(r, field);
      const list = map[key!] as string[] | undefined;
      const at = list ? list.indexOf(value as string) : -1;
      if (at < 0) return false;
      if (list!.length === 1) delete map[key!];
      else map[key!] = list!.slice(0, at).concat(list!.slice(at + 1));
      return true;
    }
    case 'push': {
      const list = (r[field] ?? []) as unknown[];
      r[field] = (list.length < op.keep ? list : list.slice(list.length - op.keep + 1)).concat([value]);
      return true;
    }
  }
}

export function newRun(id: string, inferred: boolean, now: number): RunRecord {
  // Every field from the start, the optional ones undefined: records share one shape and keep their
  // fields in the object itself (a field added later goes to a separate property array).
  return {
    id, tenant: undefined, inferred, startedAt: now, lastActivity: now, completed: undefined, stages: [], backends: [], replicas: [], calls: 0, failedCalls: 0,
    lastError: undefined, inFlight: 0, lastBackend: undefined, lastReplica: undefined, lastModel: undefined,
    contextTokens: 0, contextGrowth: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0, toolWaitSince: undefined, traceId: undefined,
    inFlightOn: {}, resident: {}, unreleased: {}, deferredFlush: {}, cacheActions: [],
  };
}

/** A copy no change to the original reaches (its lists and maps copied; the items in them are never changed in place). */
export function copyRun(r: RunRecord): RunRecord {
  const unreleased: Record<string, string[]> = {};
  for (const key in r.unreleased) unreleased[key] = [...r.unreleased[key]!];
  const deferredFlush: RunRecord['deferredFlush'] = {};
  for (const key in r.deferredFlush) deferredFlush[key] = { ...r.deferredFlush[key]!, replicas: [...r.deferredFlush[key]!.replicas] };
  return {
    ...r,
    stages: [...r.stages],
    backends: [...r.backends],
    replicas: [...r.replicas],
    inFlightOn: { ...r.inFlightOn },
    resident: { ...r.resident },
    unreleased,
    deferredFlush,
    cacheActions: [...r.cacheActions],
  };
}

const mapAt = (r: Fields, field: string) => ((r[field] ??= {}) as Fields);

/**
 * Adds `item` to the list at `owner[key]` unless it is there. A new list of exactly its length
 * replaces the old (concat makes one; push() and spreading leave room for 16 more, which 10,000
 * records pay for).
 */
function addUnique(owner: Fields, key: string, item: string): boolean {
  const list = (owner[key] ?? []) as string[];
  if (list.includes(item)) return false;
  owner[key] = list.concat([item]);
  return true;
}
