import { describe, expect, it } from 'vitest';
import { ruleBooks, type RouteKind } from '../../gateway/validate.js';

// The hand check is the hot path and zod the rule book: the hand check may be stricter (zod then
// decides), never looser. Bodies are generated from pools of good and bad values for each field.

const KINDS: RouteKind[] = ['chat', 'completions', 'responses', 'embeddings'];
const ANY = [undefined, null, '', 'x', 0, -1, 1.5, 3, 2 ** 60, true, false, 'true', [], {}, [1], ['a'], [[1, 2]], [[]], [['a']], ['a', 1, [2]], [null], { include_usage: true }, { include_usage: 'yes' }, { include_usage: null }];
const MESSAGES = [...ANY, [{ role: 'user', content: 'hi' }], [{ role: '' }], [{ role: 1 }], [{}], [[{ role: 'user' }]], [{ role: 'system' }, null], [{ role: 'system' }, { role: 'user' }]];
const FIELDS = ['model', 'stream', 'stream_options', 'metadata', 'max_tokens', 'max_completion_tokens', 'n', 'prompt', 'input', 'messages'];

const GOOD: Record<RouteKind, Record<string, unknown>> = {
  chat: { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 8 },
  completions: { model: 'm', prompt: 'p', n: 1 },
  responses: { model: 'm', input: 'x', stream: false },
  embeddings: { model: 'm', input: ['a'] },
};

/** A good body of the route with up to three fields set to a value from the pools, or removed. */
function* bodies(kind: RouteKind, seed: number, count: number): Generator<Record<string, unknown>> {
  let state = seed;
  const next = (n: number) => {
    // mulberry32
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
  for (let i = 0; i < count; i++) {
    const body: Record<string, unknown> = { ...GOOD[kind] };
    for (let changes = next(4); changes > 0; changes--) {
      const field = FIELDS[next(FIELDS.length)]!;
      const pool = field === 'messages' ? MESSAGES : ANY;
      const value = pool[next(pool.length)];
      if (value === undefined) delete body[field];
      else body[field] = value;
    }
    yield body;
  }
}

describe('request validation: the hand check against zod', () => {
  it.each(KINDS)('%s: a body the hand check passes, zod passes too', (kind) => {
    let passedByHand = 0;
    let passedByZod = 0;
    for (const body of bodies(kind, KINDS.indexOf(kind) + 1, 20_000)) {
      if (ruleBooks.byZod(kind, body)) passedByZod++;
      if (!ruleBooks.byHand(kind, body)) continue;
      passedByHand++;
      expect(ruleBooks.byZod(kind, body), JSON.stringify(body)).toBe(true);
    }
    expect(passedByHand).toBeGreaterThan(passedByZod / 2); // and it is the usual path, not a rare one
  });

  it('passes the bodies clients send without asking zod', () => {
    const messages = [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'u' }] }];
    expect(ruleBooks.byHand('chat', { model: 'm', messages, stream: true, stream_options: { include_usage: true }, max_tokens: 16, metadata: { 'orla.stage': 'x' }, tools: [{ type: 'function' }] })).toBe(true);
    expect(ruleBooks.byHand('completions', { model: 'm', prompt: 'p', max_tokens: 5 })).toBe(true);
    expect(ruleBooks.byHand('completions', { model: 'm', prompt: [[1, 2, 3]] })).toBe(true);
    expect(ruleBooks.byHand('responses', { model: 'm', input: [{ role: 'user', content: 'x' }] })).toBe(true);
    expect(ruleBooks.byHand('embeddings', { model: 'm', input: ['a', 'b'] })).toBe(true);
  });
});
