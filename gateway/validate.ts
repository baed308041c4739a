import { z } from 'zod';
import { badRequest } from '../errors.js';

// The few fields the gateway itself relies on are checked here, with a message naming the field;
// everything else is the engine's to judge, and passes through untouched (objects are loose).

export type RouteKind = 'chat' | 'completions' | 'responses' | 'embeddings';

const common = {
  model: z.string().min(1).optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  metadata: z.record(z.string(), z.unknown()).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  n: z.number().int().positive().nullish(),
};

const message = z.looseObject({ role: z.string().min(1) });
const textOrTokens = z.union([z.string(), z.array(z.union([z.string(), z.number(), z.array(z.number())])).min(1)]);

const schemas: Record<RouteKind, z.ZodType> = {
  chat: z.looseObject({ ...common, messages: z.array(message).min(1) }),
  completions: z.looseObject({ ...common, prompt: textOrTokens }),
  responses: z.looseObject({ ...common, input: z.union([z.string(), z.array(z.unknown())]).optional() }),
  embeddings: z.looseObject({ model: common.model, metadata: common.metadata, input: textOrTokens }),
};

/**
 * Throws a 400 naming the first bad field. The body itself is used as sent, not zod's copy. A body
 * that passes the hand check below never meets zod, whose parse copies every message (14 µs for a
 * 60-message conversation, against 1 µs by hand); zod stays the rule book and words every error.
 */
export function validateBody(kind: RouteKind, body: unknown): asserts body is Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('request body must be a JSON object', null, 'invalid_body');
  }
  if (deeperThan(body, MAX_DEPTH)) {
    throw badRequest(`request body is nested deeper than ${MAX_DEPTH} levels of objects and arrays`, null, 'body_too_deep');
  }
  if (passes(kind, body as Record<string, unknown>)) return;
  const result = schemas[kind].safeParse(body);
  if (result.success) return;
  const issue = result.error.issues[0]!;
  const param = issue.path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
  const why = issue.message.replace(/^Invalid input: /, '');
  throw badRequest(`${param}: ${/received undefined$/.test(why) ? 'is required' : why}`, param || null);
}

/**
 * How deep a body may nest. A body nested thousands deep parses, but cannot be serialised again (the
 * stack runs out) nor read by a Python engine (its recursion limit): such a body is refused here, so
 * it never becomes an engine's failure that counts against a replica. Tool schemas use a few dozen.
 */
export const MAX_DEPTH = 128;

/** Whether `value` nests objects and arrays more than `limit` deep; stops at the first branch that does. */
function deeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (limit === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (deeperThan(item, limit - 1)) return true;
    return false;
  }
  for (const key in value) if (deeperThan((value as Record<string, unknown>)[key], limit - 1)) return true;
  return false;
}

// The schemas' rules by hand, strictly no looser: `passes` may send a good body on to zod, never let
// a bad one through (test/unit/validate.test.ts holds the two to that over generated bodies).

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown) => v === undefined || v === null;
const modelOrAbsent = (v: unknown) => v === undefined || (typeof v === 'string' && v.length > 0);
const countOrAbsent = (v: unknown) => absent(v) || (Number.isSafeInteger(v) && (v as number) > 0);
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isTextOrTokens = (v: unknown) =>
  typeof v === 'string' ||
  (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || isNumber(x) || (Array.isArray(x) && x.every(isNumber))));

function passesCommon(body: Record<string, unknown>): boolean {
  const { model, stream, stream_options: options, metadata } = body;
  return (
    modelOrAbsent(model) &&
    (absent(stream) || typeof stream === 'boolean') &&
    (absent(options) || (isObject(options) && (absent(options.include_usage) || typeof options.include_usage === 'boolean'))) &&
    (absent(metadata) || isObject(metadata)) &&
    countOrAbsent(body.max_tokens) &&
    countOrAbsent(body.max_completion_tokens) &&
    countOrAbsent(body.n)
  );
}

function passes(kind: RouteKind, body: Record<string, unknown>): boolean {
  switch (kind) {
    case 'chat': {
      const { messages } = body;
      return passesCommon(body) && Array.isArray(messages) && messages.length > 0 &&
        messages.every((m) => isObject(m) && typeof m.role === 'string' && m.role.length > 0);
    }
    case 'completions':
      return passesCommon(body) && isTextOrTokens(body.prompt);
    case 'responses':
      return passesCommon(body) && (body.input === undefined || typeof body.input === 'string' || Array.isArray(body.input));
    case 'embeddings':
      return modelOrAbsent(body.model) && (absent(body.metadata) || isObject(body.metadata)) && isTextOrTokens(body.input);
  }
}

/** For the tests: each rule book alone. */
export const ruleBooks = {
  byHand: passes,
  byZod: (kind: RouteKind, body: Record<string, unknown>) => schemas[kind].safeParse(body).success,
};
