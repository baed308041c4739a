// JSON Schema plumbing for the generator: local `$ref` resolution, shallow `allOf` merging and type
// inference. Results are cached by schema object identity, so a schema reused across requests (or a
// `$ref` target reached many times in one document) is resolved once.

export type Schema = Record<string, unknown>;
export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array';

const JSON_TYPES: ReadonlySet<string> = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);
/** Keywords that say nothing about which values are valid. */
const ANNOTATIONS: ReadonlySet<string> = new Set([
  'title', 'description', '$comment', 'examples', 'default', '$schema', '$id', '$anchor', '$defs', 'definitions',
  'deprecated', 'readOnly', 'writeOnly', 'name', 'strict',
]);
/** Longest chain of `$ref`s / `allOf`s followed before giving up (a cycle such as a → b → a). */
const MAX_HOPS = 32;

export function isObj(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The schema without the given keys; undefined when what is left is only annotations. */
export function withoutKeys(s: Schema, drop: readonly string[]): Schema | undefined {
  const out: Schema = {};
  let meaningful = false;
  for (const [k, v] of Object.entries(s)) {
    if (drop.includes(k)) continue;
    out[k] = v;
    if (!ANNOTATIONS.has(k)) meaningful = true;
  }
  return meaningful ? out : undefined;
}

const refCache = new WeakMap<object, Map<string, unknown>>();

function unescapeToken(raw: string): string {
  let token = raw;
  try {
    token = decodeURIComponent(raw);
  } catch {
    // not percent-encoded after all
  }
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The target of a local `$ref` (`#`, `#/$defs/x`, `#/definitions/x`, any JSON pointer); undefined otherwise. */
export function resolveRef(root: unknown, ref: string): unknown {
  if (!isObj(root) || !ref.startsWith('#')) return undefined;
  let cache = refCache.get(root);
  if (!cache) {
    cache = new Map();
    refCache.set(root, cache);
  }
  if (cache.has(ref)) return cache.get(ref);
  let target: unknown = root;
  const pointer = ref.slice(1);
  if (pointer !== '' && !pointer.startsWith('/')) target = undefined; // `#anchor`: not supported
  else if (pointer !== '') {
    for (const raw of pointer.slice(1).split('/')) {
      const token = unescapeToken(raw);
      if (Array.isArray(target)) target = target[Number(token)];
      else if (isObj(target)) target = Object.hasOwn(target, token) ? target[token] : undefined;
      else target = undefined;
      if (target === undefined) break;
    }
  }
  cache.set(ref, target);
  return target;
}

function asTypes(t: unknown): string[] {
  return typeof t === 'string' ? [t] : Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
}

function intersectTypes(a: unknown, b: unknown): unknown {
  const left = asTypes(a);
  const right = asTypes(b);
  const both = left.flatMap((t) => {
    if (right.includes(t)) return [t];
    if ((t === 'integer' && right.includes('number')) || (t === 'number' && right.includes('integer'))) return ['integer'];
    return [];
  });
  if (both.length === 0) return a;
  return both.length === 1 ? both[0] : [...new Set(both)];
}

const LOWER_BOUNDS = new Set(['minimum', 'minLength', 'minItems', 'minProperties']);
const UPPER_BOUNDS = new Set(['maximum', 'maxLength', 'maxItems', 'maxProperties']);

/** Both schemas at once, shallowly: properties and required are combined, bounds tightened, the rest kept from `a`. */
export function mergeSchemas(a: Schema, b: Schema): Schema {
  const out: Schema = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    if (prev === undefined) {
      out[k] = v;
    } else if (k === 'properties' && isObj(prev) && isObj(v)) {
      const props: Schema = { ...prev };
      for (const [name, sub] of Object.entries(v)) props[name] = props[name] === undefined ? sub : { allOf: [props[name], sub] };
      out[k] = props;
    } else if (k === 'required' && Array.isArray(prev) && Array.isArray(v)) {
      out[k] = [...new Set([...prev, ...v])];
    } else if (k === 'type') {
      out[k] = intersectTypes(prev, v);
    } else if (k === 'enum' && Array.isArray(prev) && Array.isArray(v)) {
      const keys = new Set(v.map((x) => JSON.stringify(x)));
      const common = prev.filter((x) => keys.has(JSON.stringify(x)));
      if (common.length > 0) out[k] = common;
    } else if (typeof prev === 'number' && typeof v === 'number') {
      if (LOWER_BOUNDS.has(k) || k === 'exclusiveMinimum') out[k] = Math.max(prev, v);
      else if (UPPER_BOUNDS.has(k) || k === 'exclusiveMaximum') out[k] = Math.min(prev, v);
    }
  }
  return out;
}

const normalized = new WeakMap<object, { root: unknown; out: unknown }>();

function expand(raw: unknown, root: unknown, hops: number): unknown {
  if (!isObj(raw)) return raw;
  if (hops > MAX_HOPS) return true;
  let s: Schema = raw;
  if (typeof s.$ref === 'string') {
    const target = expand(resolveRef(root, s.$ref) ?? true, root, hops + 1);
    const rest = withoutKeys(s, ['$ref']);
    if (rest === undefined || target === false) return target;
    s = isObj(target) ? mergeSchemas(target, rest) : rest;
  }
  if (Array.isArray(s.allOf)) {
    let merged: Schema = withoutKeys(s, ['allOf']) ?? {};
    for (const sub of s.allOf) {
      const part = expand(sub, root, hops + 1);
      if (part === false) return false;
      if (isObj(part)) merged = mergeSchemas(merged, part);
    }
    return merged;
  }
  return s;
}

/**
 * The schema with `$ref` and `allOf` flattened at the top level (not inside properties or items,
 * which are normalized when reached, so recursive schemas stay finite). true/false/non-objects pass through.
 */
export function normalize(raw: unknown, root: unknown): unknown {
  if (!isObj(raw) || (raw.$ref === undefined && raw.allOf === undefined)) return raw;
  const hit = normalized.get(raw);
  if (hit && hit.root === root) return hit.out;
  const out = expand(raw, root, 0);
  normalized.set(raw, { root, out });
  return out;
}

/** The types a schema allows: its `type`, or one inferred from the keywords it uses. */
export function candidateTypes(s: Schema): JsonType[] {
  if (s.type !== undefined) return asTypes(s.type).filter((t): t is JsonType => JSON_TYPES.has(t));
  if (s.properties !== undefined || s.required !== undefined || s.additionalProperties !== undefined) return ['object'];
  if (s.minProperties !== undefined || s.maxProperties !== undefined || s.patternProperties !== undefined) return ['object'];
  if (s.items !== undefined || s.prefixItems !== undefined || s.minItems !== undefined || s.maxItems !== undefined) return ['array'];
  if (s.contains !== undefined || s.uniqueItems !== undefined) return ['array'];
  if (s.minLength !== undefined || s.maxLength !== undefined || s.pattern !== undefined || s.format !== undefined) return ['string'];
  if (s.minimum !== undefined || s.maximum !== undefined || s.multipleOf !== undefined) return ['number'];
  if (s.exclusiveMinimum !== undefined || s.exclusiveMaximum !== undefined) return ['number'];
  return [];
}
