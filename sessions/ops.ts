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
      return addUnique(listAt(r, field), value as string);
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
    case 'addIn': {
      const map = mapAt(r, field);
      return addUnique((map[key!] ??= []) as string[], value as string);
    }
    case 'removeIn': {
      const map = mapAt(r, field);
      const list = map[key!] as string[] | undefined;
      const at = list ? list.indexOf(value as string) : -1;
      if (at < 0) return false;
      list!.splice(at, 1);
      if (list!.length === 0) delete map[key!];
      return true;
    }
    case 'push': {
      const list = listAt(r, field) as unknown[];
      list.push(value);
      if (list.length > op.keep) list.splice(0, list.length - op.keep);
      return true;
    }
  }
}

export function newRun(id: string, inferred: boolean, now: number): RunRecord {
  return {
    id, inferred, startedAt: now, lastActivity: now, stages: [], backends: [], replicas: [], calls: 0, failedCalls: 0, inFlight: 0,
    contextTokens: 0, contextGrowth: 0, promptTokens: 0, cachedTokens: 0, completionTokens: 0, costUsd: 0,
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

const listAt = (r: Fields, field: string) => ((r[field] ??= []) as string[]);
const mapAt = (r: Fields, field: string) => ((r[field] ??= {}) as Fields);

function addUnique(list: string[], item: string): boolean {
  if (list.includes(item)) return false;
  list.push(item);
  return true;
}
