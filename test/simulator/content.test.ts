import { afterEach, describe, expect, it, vi } from 'vitest';
import { planOutput, type PlannedOutput } from '../../simulator/content.js';
import { Hasher } from '../../simulator/content/random.js';
import { tokenizeWithPieces } from '../../simulator/tokens.js';

// ---------------------------------------------------------------------------------------------
// A tiny JSON Schema checker for what these tests use (no validator is installed). Returns errors.
// ---------------------------------------------------------------------------------------------
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

const FORMATS: Record<string, RegExp> = {
  'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  email: /^[^@\s]+@[^@\s]+\.[^@\s]+$/,
  uri: /^[a-z][a-z0-9+.-]*:\/\/\S+$/,
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
};

function resolve(root: unknown, ref: string): unknown {
  let node = root;
  for (const token of ref.replace(/^#\/?/, '').split('/').filter(Boolean)) node = (node as Obj)[token];
  return node;
}

function typeOk(v: unknown, t: unknown): boolean {
  switch (t) {
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'null': return v === null;
    case 'array': return Array.isArray(v);
    case 'object': return isObj(v);
    default: return typeof v === t;
  }
}

function errorsOf(v: unknown, s: unknown, root: unknown = s, path = '$'): string[] {
  const errs: string[] = [];
  const fail = (msg: string): void => void errs.push(`${path}: ${msg} (got ${JSON.stringify(v)})`);
  const ok = (sub: unknown): boolean => errorsOf(v, sub, root, path).length === 0;
  if (s === false) fail('false schema');
  if (!isObj(s)) return errs;
  if (typeof s.$ref === 'string') errs.push(...errorsOf(v, resolve(root, s.$ref), root, path));
  if (Array.isArray(s.allOf)) for (const sub of s.allOf) errs.push(...errorsOf(v, sub, root, path));
  if (Array.isArray(s.anyOf) && !s.anyOf.some(ok)) fail('no anyOf branch matches');
  if (Array.isArray(s.oneOf) && s.oneOf.filter(ok).length !== 1) fail('not exactly one oneOf branch');
  if ('const' in s && !same(v, s.const)) fail(`not const ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => same(v, e))) fail('not in enum');
  if (s.type !== undefined && ![s.type].flat().some((t) => typeOk(v, t))) fail(`not ${JSON.stringify(s.type)}`);
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) fail(`< ${s.minimum}`);
    if (typeof s.maximum === 'number' && v > s.maximum) fail(`> ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum) fail(`<= ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && v >= s.exclusiveMaximum) fail(`>= ${s.exclusiveMaximum}`);
    if (typeof s.multipleOf === 'number' && Math.abs(v / s.multipleOf - Math.round(v / s.multipleOf)) > 1e-9) fail('multipleOf');
  }
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && v.length < s.minLength) fail('too short');
    if (typeof s.maxLength === 'number' && v.length > s.maxLength) fail('too long');
    const format = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
    if (format && !format.test(v)) fail(`not a ${String(s.format)}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) fail('too few items');
    if (typeof s.maxItems === 'number' && v.length > s.maxItems) fail('too many items');
    if (s.uniqueItems === true && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) fail('duplicate items');
    const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
    v.forEach((item, i) => {
      const sub = i < prefix.length ? prefix[i] : s.items;
      errs.push(...errorsOf(item, sub, root, `${path}[${i}]`));
    });
    if (s.contains !== undefined && !v.some((item) => errorsOf(item, s.contains, root).length === 0)) fail('contains');
  }
  if (isObj(v)) {
    const props = isObj(s.properties) ? s.properties : {};
    for (const name of Array.isArray(s.required) ? s.required : []) if (!(name in v)) fail(`missing ${String(name)}`);
    for (const [name, item] of Object.entries(v)) {
      if (name in props) errs.push(...errorsOf(item, props[name], root, `${path}.${name}`));
      else if (s.additionalProperties === false) fail(`unexpected ${name}`);
      else if (isObj(s.additionalProperties)) errs.push(...errorsOf(item, s.additionalProperties, root, `${path}.${name}`));
    }
    const n = Object.keys(v).length;
    if (typeof s.minProperties === 'number' && n < s.minProperties) fail('too few properties');
    if (typeof s.maxProperties === 'number' && n > s.maxProperties) fail('too many properties');
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------
const user = (content: unknown): Obj => ({ role: 'user', content });
const chat = (text: string, extra: Obj = {}): Obj => ({ model: 'Qwen/Qwen3-8B', messages: [user(text)], ...extra });
const withSchema = (schema: unknown): Obj => ({ response_format: { type: 'json_schema', json_schema: { name: 'out', schema, strict: true } } });
const seeds = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function textOf(out: PlannedOutput): string {
  if (out.kind !== 'text') throw new Error(`expected text, got ${JSON.stringify(out)}`);
  return out.text;
}

function callsOf(out: PlannedOutput): { id: string; name: string; arguments: string }[] {
  if (out.kind !== 'tool_calls') throw new Error(`expected tool calls, got ${JSON.stringify(out)}`);
  return out.calls;
}

/** The JSON planned for `schema` under each of `n` request seeds. */
function samples(schema: unknown, n = 200): unknown[] {
  return seeds(n).map((seed) => JSON.parse(textOf(planOutput(chat('give me json', { seed, ...withSchema(schema) })))) as unknown);
}

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
      additionalProperties: false,
    },
  },
};
const search = {
  type: 'function',
  function: {
    name: 'search_docs',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 3 },
        limit: { type: 'integer', minimum: 1, maximum: 20 },
        filters: { type: 'array', maxItems: 2, items: { type: 'object', properties: { field: { type: 'string' }, value: { type: ['string', 'number'] } }, required: ['field', 'value'] } },
      },
      required: ['query', 'limit'],
    },
  },
};
const noArgs = { type: 'function', function: { name: 'get_time' } };
const TOOLS = [weather, search, noArgs];
const parametersOf = (name: string): unknown => (TOOLS.find((t) => t.function.name === name)?.function as Obj | undefined)?.parameters;

afterEach(() => {
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------------------------------------
describe('determinism', () => {
  it('gives the same output for the same body, even as a fresh copy', () => {
    const body = chat('Summarise the plan', { seed: 7, tools: TOOLS });
    expect(planOutput(structuredClone(body))).toEqual(planOutput(body));
    const plain = chat('Summarise the plan');
    expect(planOutput(structuredClone(plain))).toEqual(planOutput(plain));
  });

  it('never calls Math.random', () => {
    const random = vi.spyOn(Math, 'random');
    planOutput(chat('hello', { tools: TOOLS }));
    planOutput(chat('hello', withSchema({ type: 'object', properties: { a: { type: 'string' } } })));
    planOutput({ model: 'm', prompt: 'Once upon a time' });
    expect(random).not.toHaveBeenCalled();
  });

  it('gives different conversations different outputs', () => {
    const texts = seeds(100).map((i) => textOf(planOutput(chat(`question number ${i}`))));
    expect(new Set(texts).size).toBe(100);
    const a = { model: 'm', messages: [user('hi'), { role: 'assistant', content: 'ab' }, user('c')] };
    const b = { model: 'm', messages: [user('hi'), { role: 'assistant', content: 'a' }, user('bc')] };
    expect(planOutput(a)).not.toEqual(planOutput(b));
  });

  it('changes with the seed field and with the model name', () => {
    const base = textOf(planOutput(chat('same words')));
    expect(textOf(planOutput(chat('same words', { seed: 1 })))).not.toBe(base);
    expect(textOf(planOutput(chat('same words', { model: 'Qwen/Qwen3-4B' })))).not.toBe(base);
  });
});

describe('plain text', () => {
  it('is English-like prose of roughly 20 to 200 words, varying with the seed', () => {
    const counts = seeds(300).map((seed) => {
      const text = textOf(planOutput(chat('Tell me about caching', { seed })));
      expect(text).toMatch(/^[A-Z][a-zA-Z ,.\n]+\.$/);
      return text.split(/\s+/).length;
    });
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...counts)).toBeLessThanOrEqual(230);
    expect(Math.min(...counts)).toBeLessThan(50);
    expect(Math.max(...counts)).toBeGreaterThan(150);
  });

  it('answers /v1/completions prompts, a string or a list of strings, in text', () => {
    expect(textOf(planOutput({ model: 'm', prompt: 'The capital of France is' })).length).toBeGreaterThan(0);
    const listed = planOutput({ model: 'm', prompt: ['a', 'b'] });
    expect(textOf(listed)).not.toBe(textOf(planOutput({ model: 'm', prompt: ['ab'] })));
  });

  it('treats response_format text like no response_format', () => {
    const body = chat('hi');
    expect(planOutput({ ...body, response_format: { type: 'text' } })).toEqual(planOutput(body));
  });
});

describe('json_schema output validates against the schema', () => {
  it('(the checker used here rejects invalid values)', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer', maximum: 3 }, s: { enum: ['a'] } }, required: ['n', 's'], additionalProperties: false };
    expect(errorsOf({ n: 3, s: 'a' }, schema)).toEqual([]);
    expect(errorsOf({ n: 4, s: 'a' }, schema)).toHaveLength(1);
    expect(errorsOf({ n: 1.5, s: 'b', x: 1 }, schema)).toHaveLength(3);
    expect(errorsOf({ s: 'a' }, schema)).toHaveLength(1);
    expect(errorsOf('x', { anyOf: [{ type: 'integer' }, { $ref: '#/$defs/b' }], $defs: { b: { type: 'boolean' } } })).toHaveLength(1);
  });

  const schemas: Record<string, unknown> = {
    'enum, const and scalar types': {
      type: 'object',
      properties: {
        verdict: { type: 'string', enum: ['relevant', 'irrelevant', 'unsure'] },
        version: { const: 2 },
        ok: { type: 'boolean' },
        nothing: { type: 'null' },
        level: { enum: [1, 'two', null, true] },
      },
      required: ['verdict', 'version', 'ok', 'nothing', 'level'],
      additionalProperties: false,
    },
    'strict-mode object with nested objects and arrays': {
      type: 'object',
      properties: {
        title: { type: 'string' },
        steps: {
          type: 'array',
          minItems: 2,
          maxItems: 5,
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, minutes: { type: 'integer', minimum: 1, maximum: 90 }, tags: { type: 'array', items: { type: 'string' } } },
            required: ['name', 'minutes', 'tags'],
            additionalProperties: false,
          },
        },
        owner: { type: 'object', properties: { email: { type: 'string', format: 'email' } }, required: ['email'], additionalProperties: false },
      },
      required: ['title', 'steps', 'owner'],
      additionalProperties: false,
    },
    'optional properties and nullable types': {
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: ['integer', 'null'] }, c: { type: 'number' }, d: { anyOf: [{ type: 'string' }, { type: 'null' }] } },
      required: ['a'],
    },
    'anyOf and oneOf unions': {
      type: 'object',
      properties: {
        shape: {
          oneOf: [
            { type: 'object', properties: { kind: { const: 'circle' }, radius: { type: 'number', exclusiveMinimum: 0 } }, required: ['kind', 'radius'], additionalProperties: false },
            { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'integer', minimum: 1 } }, required: ['kind', 'side'], additionalProperties: false },
          ],
        },
        id: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', format: 'uuid' }] },
      },
      required: ['shape', 'id'],
    },
    '$ref to $defs and definitions': {
      type: 'object',
      $defs: { person: { type: 'object', properties: { name: { type: 'string' }, age: { $ref: '#/definitions/age' } }, required: ['name', 'age'] } },
      definitions: { age: { type: 'integer', minimum: 0, maximum: 130 } },
      properties: { author: { $ref: '#/$defs/person' }, reviewers: { type: 'array', items: { $ref: '#/$defs/person' }, maxItems: 3 } },
      required: ['author', 'reviewers'],
    },
    'integer and number bounds': {
      type: 'object',
      properties: {
        small: { type: 'integer', minimum: -3, maximum: 3 },
        exclusive: { type: 'integer', exclusiveMinimum: 10, exclusiveMaximum: 12 },
        negative: { type: 'integer', maximum: -1000 },
        huge: { type: 'integer', minimum: 0, maximum: 1e15 },
        stepped: { type: 'integer', minimum: 3, maximum: 50, multipleOf: 5 },
        ratio: { type: 'number', minimum: 0, maximum: 1 },
        open: { type: 'number', exclusiveMinimum: 0.5, exclusiveMaximum: 0.51 },
        tenth: { type: 'number', multipleOf: 0.1, minimum: 1, maximum: 2 },
      },
      required: ['small', 'exclusive', 'negative', 'huge', 'stepped', 'ratio', 'open', 'tenth'],
    },
    'string lengths and formats': {
      type: 'object',
      properties: {
        short: { type: 'string', maxLength: 5 },
        long: { type: 'string', minLength: 80, maxLength: 100 },
        exact: { type: 'string', minLength: 7, maxLength: 7 },
        empty: { type: 'string', maxLength: 0 },
        when: { type: 'string', format: 'date-time' },
        day: { type: 'string', format: 'date' },
        contact: { type: 'string', format: 'email' },
        homepage: { type: 'string', format: 'uri' },
      },
      required: ['short', 'long', 'exact', 'empty', 'when', 'day', 'contact', 'homepage'],
    },
    'allOf, tuples, unique items, contains and maps': {
      type: 'object',
      properties: {
        merged: { allOf: [{ type: 'object', properties: { x: { type: 'integer' } }, required: ['x'] }, { properties: { y: { type: 'string' } }, required: ['y'] }] },
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false, minItems: 2 },
        picks: { type: 'array', items: { enum: ['a', 'b', 'c'] }, uniqueItems: true, minItems: 2, maxItems: 3 },
        found: { type: 'array', contains: { const: 'needle' } },
        counts: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, minProperties: 2 },
      },
      required: ['merged', 'pair', 'picks', 'found', 'counts'],
    },
    'a top-level array': { type: 'array', items: { type: 'string', enum: ['x', 'y'] }, minItems: 1, maxItems: 4 },
    'a top-level anyOf of refs': { $defs: { a: { type: 'string' }, b: { type: 'boolean' } }, anyOf: [{ $ref: '#/$defs/a' }, { $ref: '#/$defs/b' }] },
  };

  for (const [name, schema] of Object.entries(schemas)) {
    it(`for ${name}, across seeds`, () => {
      for (const value of samples(schema)) expect(errorsOf(value, schema)).toEqual([]);
    });
  }

  it('always includes required properties and includes optional ones on some seeds only', () => {
    const schema = schemas['optional properties and nullable types'];
    const values = samples(schema) as Obj[];
    for (const key of ['b', 'c', 'd']) {
      const present = values.filter((v) => key in v).length;
      expect(present).toBeGreaterThan(20);
      expect(present).toBeLessThan(180);
    }
  });

  it('picks every branch of a union on some seed', () => {
    const values = samples(schemas['anyOf and oneOf unions']) as { shape: { kind: string }; id: unknown }[];
    expect(new Set(values.map((v) => v.shape.kind))).toEqual(new Set(['circle', 'square']));
    expect(new Set(values.map((v) => typeof v.id))).toEqual(new Set(['number', 'string']));
  });

  it('terminates on recursive schemas and still validates', () => {
    const tree = {
      $defs: { node: { type: 'object', properties: { label: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/node' } } }, required: ['label', 'children'] } },
      $ref: '#/$defs/node',
    };
    const list = { type: 'object', properties: { value: { type: 'integer' }, next: { anyOf: [{ $ref: '#' }, { type: 'null' }] } }, required: ['value', 'next'] };
    for (const schema of [tree, list]) {
      for (const value of samples(schema, 50)) expect(errorsOf(value, schema)).toEqual([]);
    }
  });

  it('terminates on a schema with no finite instance', () => {
    const endless = { $defs: { n: { type: 'object', properties: { next: { $ref: '#/$defs/n' } }, required: ['next'] } }, $ref: '#/$defs/n' };
    const cyclic = { $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } }, $ref: '#/$defs/a' };
    for (const schema of [endless, cyclic]) expect(() => JSON.parse(textOf(planOutput(chat('x', withSchema(schema)))))).not.toThrow();
  });

  it('uses property names to pick plausible strings', () => {
    const schema = { type: 'object', properties: { email: { type: 'string' }, city: { type: 'string' }, reason: { type: 'string' } }, required: ['email', 'city', 'reason'] };
    const value = samples(schema, 1)[0] as { email: string; city: string; reason: string };
    expect(value.email).toMatch(FORMATS.email as RegExp);
    expect(value.city).toMatch(/^[A-Z][a-z]+$/);
    expect(value.reason).toMatch(/^[A-Z].*\.$/);
  });

  it('answers json_object mode with a small JSON object', () => {
    for (const seed of seeds(50)) {
      const value = JSON.parse(textOf(planOutput(chat('json please', { seed, response_format: { type: 'json_object' } })))) as unknown;
      expect(isObj(value)).toBe(true);
      expect(Object.keys(value as Obj).length).toBeGreaterThanOrEqual(2);
    }
  });

  it('honours vLLM guided_json and guided_choice', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer', minimum: 5, maximum: 6 } }, required: ['n'] };
    expect(errorsOf(JSON.parse(textOf(planOutput(chat('x', { guided_json: schema })))), schema)).toEqual([]);
    expect(['yes', 'no']).toContain(textOf(planOutput(chat('x', { guided_choice: ['yes', 'no'] }))));
  });
});

describe('tool calls', () => {
  it('have arguments that validate against the chosen tool, vLLM-style ids and known names', () => {
    for (const seed of seeds(200)) {
      const calls = callsOf(planOutput(chat('What is the weather in Oslo?', { seed, tools: TOOLS })));
      expect(calls.length).toBeGreaterThanOrEqual(1);
      expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
      for (const call of calls) {
        expect(call.id).toMatch(/^chatcmpl-tool-[0-9a-f]{32}$/);
        const parameters = parametersOf(call.name);
        const args = JSON.parse(call.arguments) as unknown;
        expect(isObj(args)).toBe(true);
        if (parameters !== undefined) expect(errorsOf(args, parameters)).toEqual([]);
      }
    }
  });

  it('under "auto", picks different tools on different seeds and sometimes two in parallel', () => {
    const outs = seeds(200).map((seed) => callsOf(planOutput(chat('help', { seed, tools: TOOLS }))));
    expect(new Set(outs.flatMap((calls) => calls.map((c) => c.name)))).toEqual(new Set(TOOLS.map((t) => t.function.name)));
    const parallel = outs.filter((calls) => calls.length === 2);
    expect(parallel.length).toBeGreaterThan(10);
    expect(parallel.length).toBeLessThan(100);
    for (const calls of parallel) expect(calls[0]?.name).not.toBe(calls[1]?.name);
  });

  it('makes one call at a time when parallel_tool_calls is false', () => {
    for (const seed of seeds(100)) {
      expect(callsOf(planOutput(chat('help', { seed, tools: TOOLS, parallel_tool_calls: false })))).toHaveLength(1);
    }
  });

  it('honours a named tool_choice and "required"', () => {
    const choice = { type: 'function', function: { name: 'search_docs' } };
    for (const seed of seeds(50)) {
      const calls = callsOf(planOutput(chat('help', { seed, tools: TOOLS, tool_choice: choice })));
      expect(calls.map((c) => c.name)).toEqual(['search_docs']);
      expect(errorsOf(JSON.parse(calls[0]?.arguments ?? ''), search.function.parameters)).toEqual([]);
      expect(callsOf(planOutput(chat('help', { seed, tools: TOOLS, tool_choice: 'required' }))).length).toBeGreaterThanOrEqual(1);
    }
  });

  it('answers in text under tool_choice "none" or without tools', () => {
    expect(planOutput(chat('help', { tools: TOOLS, tool_choice: 'none' })).kind).toBe('text');
    expect(planOutput(chat('help', { tools: [] })).kind).toBe('text');
  });

  it('answers in text, or JSON under a response_format, once the conversation ends in a tool result', () => {
    const messages = [
      user('Weather in Oslo?'),
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 3}' },
    ];
    const schema = { type: 'object', properties: { temp: { type: 'integer' } }, required: ['temp'], additionalProperties: false };
    for (const seed of seeds(50)) {
      expect(planOutput({ model: 'm', seed, messages, tools: TOOLS }).kind).toBe('text');
      const json = JSON.parse(textOf(planOutput({ model: 'm', seed, messages, tools: TOOLS, ...withSchema(schema) }))) as unknown;
      expect(errorsOf(json, schema)).toEqual([]);
    }
  });

  it('still calls after a tool result when tool_choice names a function, as the API contract requires', () => {
    const messages = [user('go'), { role: 'assistant', content: null, tool_calls: [] }, { role: 'tool', tool_call_id: 'x', content: 'done' }];
    const out = planOutput({ model: 'm', messages, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_time' } } });
    expect(callsOf(out).map((c) => c.name)).toEqual(['get_time']);
    expect(callsOf(out)[0]?.arguments).toBe('{}');
  });

  it('takes precedence over a response_format before a tool result', () => {
    expect(planOutput(chat('help', { tools: TOOLS, ...withSchema({ type: 'string' }) })).kind).toBe('tool_calls');
  });
});

describe('test-hook markers', () => {
  it('[[sim:answer TEXT]] makes the output exactly TEXT, whatever the format or tools', () => {
    const body = chat('Classify this. [[sim:answer {"verdict": "yes"]] thanks', { tools: TOOLS, ...withSchema({ type: 'object' }) });
    expect(planOutput(body)).toEqual({ kind: 'text', text: '{"verdict": "yes"' });
    expect(textOf(planOutput(chat('[[sim:answer line one\nline two]]')))).toBe('line one\nline two');
    expect(textOf(planOutput(chat('[[sim:answer]]')))).toBe('');
    expect(textOf(planOutput(chat('[[sim:answer  two spaces]] [[sim:answer second]]')))).toBe(' two spaces');
  });

  it('[[sim:answer]] is read from the last user message only, including content parts', () => {
    const earlier = { model: 'm', messages: [user('[[sim:answer old]]'), { role: 'assistant', content: 'old' }, user('new question')] };
    expect(textOf(planOutput(earlier))).not.toBe('old');
    const parts = { model: 'm', messages: [user([{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'x' } }, { type: 'text', text: '[[sim:answer cat]]' }])] };
    expect(textOf(planOutput(parts))).toBe('cat');
    const trailing = { model: 'm', messages: [user('[[sim:answer fixed]]'), { role: 'assistant', content: 'partial' }] };
    expect(textOf(planOutput(trailing))).toBe('fixed');
  });

  it('[[sim:answer]] works in a completions prompt', () => {
    expect(textOf(planOutput({ model: 'm', prompt: 'Q: 2+2?\nA: [[sim:answer 4]]' }))).toBe('4');
    expect(textOf(planOutput({ model: 'm', prompt: ['plain', 'x [[sim:answer second]]'] }))).toBe('second');
  });

  it('[[sim:tool NAME ARGS_JSON]] forces a call with those arguments verbatim', () => {
    const calls = callsOf(planOutput(chat('[[sim:tool get_weather {"city": "a]]b", "n": [[1]]}]]', { tools: TOOLS })));
    expect(calls).toEqual([{ id: expect.stringMatching(/^chatcmpl-tool-[0-9a-f]{32}$/), name: 'get_weather', arguments: '{"city": "a]]b", "n": [[1]]}' }]);
    expect(callsOf(planOutput(chat('[[sim:tool get_time]]')))[0]).toMatchObject({ name: 'get_time', arguments: '{}' });
    expect(callsOf(planOutput(chat('[[sim:tool get_weather {"city": ]]')))[0]?.arguments).toBe('{"city":');
    const two = callsOf(planOutput(chat('[[sim:tool a {}]] and [[sim:tool b {"x":1}]]', { tool_choice: 'none' })));
    expect(two.map((c) => [c.name, c.arguments])).toEqual([['a', '{}'], ['b', '{"x":1}']]);
  });

  it('scripts an agent turn: the tool marker before the tool result, the answer marker after it', () => {
    const script = '[[sim:tool get_weather {"city":"Oslo"}]] [[sim:answer Sunny in Oslo.]]';
    const first = callsOf(planOutput(chat(script, { tools: TOOLS })));
    expect(first.map((c) => c.name)).toEqual(['get_weather']);
    const messages = [
      user(script),
      { role: 'assistant', content: null, tool_calls: [{ id: first[0]?.id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: first[0]?.id, content: 'sunny' },
    ];
    expect(planOutput({ model: 'm', messages, tools: TOOLS })).toEqual({ kind: 'text', text: 'Sunny in Oslo.' });
  });

  it('ignores text that only looks like a marker', () => {
    for (const text of ['[[sim:answer never closed', '[[sim:answering]]', '[[sim:tool]]', '[sim:answer x]']) {
      const out = planOutput(chat(text));
      expect(out.kind).toBe('text');
      expect(textOf(out).split(/\s+/).length).toBeGreaterThanOrEqual(20);
    }
  });
});

describe('cost', () => {
  // Counted, not timed: how often the messages are read and how many characters are hashed. Linear
  // work doubles with the conversation; reading every earlier turn again per turn would quadruple.
  it('plans for a long conversation with work linear in its length', () => {
    const workFor = (turns: number) => {
      let reads = 0;
      const messages = Array.from({ length: turns }, (_, i) =>
        new Proxy({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i} `.repeat(50) }, {
          get: (target, key, receiver) => (reads++, Reflect.get(target, key, receiver)),
        }),
      );
      let hashed = 0;
      const str = Hasher.prototype.str;
      const spy = vi.spyOn(Hasher.prototype, 'str').mockImplementation(function (this: Hasher, text: string) {
        hashed += text.length;
        return str.call(this, text);
      });
      try {
        expect(['text', 'tool_calls']).toContain(planOutput({ model: 'm', messages, tools: TOOLS }).kind);
      } finally {
        spy.mockRestore();
      }
      return { reads, hashed };
    };
    const [half, whole] = [workFor(2000), workFor(4000)];
    expect(half.reads).toBeGreaterThanOrEqual(2000); // every turn is read…
    expect(whole.reads).toBeLessThanOrEqual(2 * half.reads + 64); // …a bounded number of times
    expect(half.hashed).toBeGreaterThan(2000 * 50 * 'turn 0 '.length);
    expect(whole.hashed).toBeLessThanOrEqual(2.2 * half.hashed);
  });
});

describe('size', () => {
  // Sizes the old generator, which built all of a minLength / minItems whatever max_tokens was,
  // still finished (in seconds): a regression fails here rather than hangs. 1e9 is in wire.test.ts.
  const big = {
    type: 'object',
    properties: {
      text: { type: 'string', minLength: 200_000 },
      rows: { type: 'array', minItems: 100, items: { type: 'array', minItems: 100, items: { type: 'string', minLength: 20 } } },
    },
    required: ['text', 'rows'],
  };
  const nested = { type: 'array', minItems: 60, items: { type: 'object', minProperties: 60, additionalProperties: { type: 'integer' } } };

  it('stops generating JSON a little past what max_tokens can show', () => {
    const text = textOf(planOutput(chat('x', withSchema(big)), 50));
    expect(text.startsWith('{"text":"')).toBe(true);
    expect(text.length).toBeLessThan(2000);
    expect(textOf(planOutput(chat('x', withSchema(nested)), 50)).length).toBeLessThan(2000);
  }, 5000);

  it('keeps every token that max_tokens lets out', () => {
    // No token is longer than 7 characters: n tokens lie within the first 8n + 64.
    const tokens = (out: PlannedOutput, n: number): string[] => tokenizeWithPieces(textOf(out).slice(0, 8 * n + 64)).pieces.slice(0, n);
    const everyday = {
      type: 'object',
      properties: { title: { type: 'string' }, reason: { type: 'string', minLength: 40 }, tags: { type: 'array', items: { type: 'string' }, minItems: 3 }, score: { type: 'number' } },
      required: ['title', 'reason', 'tags', 'score'],
    };
    for (const schema of [big, nested, everyday]) {
      for (const seed of seeds(3)) {
        const body = chat('x', { seed, ...withSchema(schema) });
        const full = planOutput(body);
        for (const n of [1, 7, 40, 300]) expect(tokens(planOutput(body, n), n)).toEqual(tokens(full, n));
      }
    }
  }, 5000);
});
