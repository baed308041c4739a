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

/** Throws a 400 naming the first bad field. The body itself is used as sent, not zod's copy. */
export function validateBody(kind: RouteKind, body: unknown): asserts body is Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('request body must be a JSON object', null, 'invalid_body');
  }
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
