// A value that validates against a JSON Schema, chosen by a seeded PRNG.
//
// Covers: type (incl. lists of types), enum, const, required/optional properties, additionalProperties,
// min/maxProperties, nested objects and arrays (items, prefixItems, tuple items, min/maxItems, uniqueItems,
// contains), anyOf/oneOf (one branch, merged with sibling keywords), allOf (shallow merge), local $ref,
// numeric bounds and multipleOf, string length and common formats. Not covered: pattern, patternProperties,
// dependencies, if/then/else, not. A guard keeps recursive schemas finite: past SOFT_DEPTH levels or
// NODE_BUDGET values, optional properties are dropped, arrays shrink to minItems and anyOf takes its
// cheapest branch; past HARD_DEPTH (only a schema with no finite instance gets there) the value is null.
// A character budget bounds the whole document: once the JSON written so far is at least `maxChars`
// long (the caller sets it past what max_tokens lets out), arrays and objects stop filling, strings
// stop padding and any further value is null. Without it a minLength of 1e9, nested minItems or a
// branching recursive schema made the generator run (synchronously) for minutes or forever.

import type { Rng } from './random.js';
import { bound, generateNumber, generateString } from './scalars.js';
import { candidateTypes, isObj, mergeSchemas, normalize, withoutKeys, type JsonType, type Schema } from './schema-util.js';
import { phrase, word } from './words.js';

const SOFT_DEPTH = 8;
const HARD_DEPTH = 48;
const NODE_BUDGET = 500;
/** Most items or extra properties generated to satisfy a minItems / minProperties. */
const MAX_FILL = 1000;
/** Cheapest first: what a size-limited generator picks among a list of types. */
const CHEAP_ORDER: readonly JsonType[] = ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object'];

interface Ctx {
  rng: Rng;
  root: unknown;
  nodes: number;
  /** A lower bound on the length of the JSON text generated so far. */
  chars: number;
  maxChars: number;
  /** Characters generated for items that uniqueItems then dropped: work, but not output. */
  wasted: number;
}

/** How much the generator may throw away on duplicates beyond its budget: a cap on time, not on output. */
const WASTE_ALLOWANCE = 100_000;

const spent = (ctx: Ctx): boolean => ctx.chars >= ctx.maxChars || ctx.wasted >= 4 * ctx.maxChars + WASTE_ALLOWANCE;

/** Counts a finished value's JSON length (a scalar, or a const/enum value taken whole). */
function emit<T>(ctx: Ctx, value: T): T {
  ctx.chars += typeof value === 'string' ? value.length + 2 : (JSON.stringify(value)?.length ?? 4);
  return value;
}

/**
 * A value valid for `schema` (as far as the generator goes; see the header). `fallbackType` applies
 * when the schema does not say or imply a type — tool parameters default to an object. Past about
 * `maxChars` characters of JSON the value is cut short (see the header).
 */
export function generateValue(schema: unknown, rng: Rng, fallbackType: JsonType | undefined, maxChars: number): unknown {
  return gen(schema, { rng, root: schema, nodes: 0, chars: 0, maxChars, wasted: 0 }, 0, '', fallbackType);
}

/** The anyOf/oneOf branches with the schema's other keywords merged in, cached per schema. */
const branchCache = new WeakMap<Schema, unknown[]>();

function branches(s: Schema): unknown[] | undefined {
  const keyword = Array.isArray(s.anyOf) && s.anyOf.length > 0 ? 'anyOf' : Array.isArray(s.oneOf) && s.oneOf.length > 0 ? 'oneOf' : undefined;
  if (keyword === undefined) return undefined;
  let cached = branchCache.get(s);
  if (!cached) {
    const alternatives = s[keyword] as unknown[];
    const rest = withoutKeys(s, [keyword]);
    cached = rest === undefined ? alternatives : alternatives.map((branch) => ({ allOf: [rest, branch] }));
    branchCache.set(s, cached);
  }
  return cached;
}

/** How far a branch is from a leaf: 0 scalar, 1 empty-able container, 2 anything else. */
function cost(branch: unknown, root: unknown): number {
  const s = normalize(branch, root);
  if (!isObj(s) || s.const !== undefined || Array.isArray(s.enum)) return 0;
  if (s.anyOf !== undefined || s.oneOf !== undefined) return 1;
  const types = candidateTypes(s);
  if (types.length === 0 || types.some((t) => t !== 'array' && t !== 'object')) return 0;
  if (types.includes('array') && !(bound(s.minItems, 0) > 0)) return 1;
  if (types.includes('object') && !(Array.isArray(s.required) && s.required.length > 0)) return 1;
  return 2;
}

function isNullBranch(branch: unknown, root: unknown): boolean {
  const s = normalize(branch, root);
  return isObj(s) && (s.type === 'null' || s.const === null);
}

function chooseBranch(options: unknown[], ctx: Ctx, lean: boolean): unknown {
  if (lean) {
    let best = options[0];
    let bestCost = Number.POSITIVE_INFINITY;
    for (const option of options) {
      const c = cost(option, ctx.root);
      if (c < bestCost) [best, bestCost] = [option, c];
    }
    return best;
  }
  // Mostly a real value rather than the `null` of an optional-field pattern.
  const nonNull = options.filter((o) => !isNullBranch(o, ctx.root));
  if (nonNull.length > 0 && nonNull.length < options.length && !ctx.rng.chance(0.2)) return ctx.rng.pick(nonNull);
  return ctx.rng.pick(options);
}

function chooseType(s: Schema, ctx: Ctx, lean: boolean, fallback: JsonType | undefined): JsonType {
  const types = candidateTypes(s);
  if (types.length === 0) return fallback ?? 'string';
  if (types.length === 1) return types[0] as JsonType;
  if (lean) return CHEAP_ORDER.find((t) => types.includes(t)) ?? (types[0] as JsonType);
  const nonNull = types.filter((t) => t !== 'null');
  if (nonNull.length === 0 || (nonNull.length < types.length && ctx.rng.chance(0.2))) return 'null';
  return ctx.rng.pick(nonNull);
}

function gen(raw: unknown, ctx: Ctx, depth: number, key: string, fallback?: JsonType): unknown {
  ctx.nodes += 1;
  if (depth > HARD_DEPTH || spent(ctx)) return emit(ctx, null);
  const s = normalize(raw, ctx.root);
  if (s === false) return emit(ctx, null);
  if (!isObj(s)) return emit(ctx, fallback === 'object' ? {} : phrase(ctx.rng)); // `true`, or no schema at all
  if (s.const !== undefined) return emit(ctx, s.const);
  if (Array.isArray(s.enum) && s.enum.length > 0) return emit(ctx, ctx.rng.pick(s.enum));
  const lean = depth >= SOFT_DEPTH || ctx.nodes >= NODE_BUDGET;
  const options = branches(s);
  if (options) return gen(chooseBranch(options, ctx, lean), ctx, depth + 1, key, fallback);
  switch (chooseType(s, ctx, lean, fallback)) {
    case 'null':
      return emit(ctx, null);
    case 'boolean':
      return emit(ctx, ctx.rng.chance(0.5));
    case 'integer':
      return emit(ctx, generateNumber(s, ctx.rng, true, key));
    case 'number':
      return emit(ctx, generateNumber(s, ctx.rng, false, key));
    case 'string':
      return emit(ctx, generateString(s, ctx.rng, key, ctx.maxChars - ctx.chars));
    case 'array':
      return genArray(s, ctx, depth, lean, key);
    case 'object':
      return genObject(s, ctx, depth, lean);
  }
}

function genObject(s: Schema, ctx: Ctx, depth: number, lean: boolean): Record<string, unknown> {
  // A null prototype, so a property called "__proto__" is an ordinary key.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const properties = isObj(s.properties) ? s.properties : {};
  const required = new Set(Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : []);
  const extra = isObj(s.additionalProperties) || s.additionalProperties === true ? s.additionalProperties : undefined;
  const closed = s.additionalProperties === false;
  const minProps = Math.min(MAX_FILL, bound(s.minProperties, 0));
  let optionalSlots = bound(s.maxProperties, Number.POSITIVE_INFINITY) - required.size;
  let count = 0;
  ctx.chars += 2;
  const put = (name: string, value: () => unknown): void => {
    ctx.chars += name.length + (count > 0 ? 4 : 3); // "name": and a comma
    out[name] = value();
    count += 1;
  };
  const skipped: string[] = [];
  for (const [name, sub] of Object.entries(properties)) {
    if (!required.has(name)) {
      if (optionalSlots <= 0 || lean || !ctx.rng.chance(0.6)) {
        skipped.push(name);
        continue;
      }
      optionalSlots -= 1;
    }
    put(name, () => gen(sub, ctx, depth + 1, name));
  }
  for (const name of required) {
    if (Object.hasOwn(properties, name)) continue;
    put(name, () => gen(extra ?? true, ctx, depth + 1, name));
  }
  // minProperties: the skipped optional properties first, then made-up keys where the schema allows them.
  for (const name of skipped) {
    if (count >= minProps || spent(ctx)) break;
    put(name, () => gen(properties[name], ctx, depth + 1, name));
  }
  const wantsMap = !lean && !closed && extra !== undefined && isObj(extra) && count === 0 && Object.keys(properties).length === 0;
  const target = Math.max(minProps, wantsMap ? Math.min(ctx.rng.int(1, 3), bound(s.maxProperties, 3)) : 0);
  for (let i = 0; count < target && !closed && i < MAX_FILL * 2 && !spent(ctx); i++) {
    const name = i < 10 ? word(ctx.rng) : `${word(ctx.rng)}_${i}`;
    if (Object.hasOwn(out, name) || Object.hasOwn(properties, name)) continue;
    put(name, () => gen(extra ?? true, ctx, depth + 1, name));
  }
  return out;
}

function genArray(s: Schema, ctx: Ctx, depth: number, lean: boolean, key: string): unknown[] {
  const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : [];
  const rest = Array.isArray(s.items) ? s.additionalItems : s.items;
  const restAllowed = rest !== false;
  let min = Math.min(MAX_FILL, bound(s.minItems, 0));
  let max = Math.min(bound(s.maxItems, Number.POSITIVE_INFINITY), Math.max(min, tuple.length) + 3);
  if (!restAllowed) max = Math.min(max, tuple.length);
  const contains = isObj(s.contains) && !tuple.length ? s.contains : undefined;
  if (contains && max >= 1) min = Math.max(min, 1);
  min = Math.min(min, max);
  const length = lean ? min : ctx.rng.int(min === 0 && max > 0 && ctx.rng.chance(0.9) ? 1 : min, max);
  const itemSchema = (i: number): unknown => {
    if (i < tuple.length) return tuple[i];
    if (i === 0 && contains) return rest === undefined ? contains : mergeItem(rest, contains, ctx.root);
    return rest;
  };
  const out: unknown[] = [];
  const seen = s.uniqueItems === true ? new Set<string>() : undefined;
  const itemKey = key.endsWith('s') && key.length > 3 ? key.slice(0, -1) : key;
  ctx.chars += 2;
  for (let attempts = 0; out.length < length && attempts < length * 8 + 8 && !spent(ctx); attempts++) {
    const before = ctx.chars;
    const item = gen(itemSchema(out.length), ctx, depth + 1, itemKey);
    if (seen) {
      const id = JSON.stringify(item);
      if (seen.has(id)) {
        ctx.wasted += ctx.chars - before; // dropped: not in the output
        ctx.chars = before;
        continue;
      }
      seen.add(id);
    }
    if (out.length > 0) ctx.chars += 1;
    out.push(item);
  }
  return out;
}

const containsCache = new WeakMap<object, WeakMap<object, Schema>>();

/** An item schema that satisfies both `items` and `contains`, cached so repeated calls share it. */
function mergeItem(items: unknown, rawContains: Schema, root: unknown): unknown {
  const base = normalize(items, root);
  const contains = normalize(rawContains, root);
  if (!isObj(base) || !isObj(contains)) return base === true || base === undefined ? contains : base;
  let inner = containsCache.get(base);
  if (!inner) containsCache.set(base, (inner = new WeakMap()));
  let merged = inner.get(contains);
  if (!merged) inner.set(contains, (merged = mergeSchemas(base, contains)));
  return merged;
}
