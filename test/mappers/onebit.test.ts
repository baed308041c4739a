import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OrlaError } from '../../errors.js';
import { costOf } from '../../routing/cost.js';
import { promptText } from '../../routing/mappers/onebit-prompt.js';
import { identify } from '../../sessions/identity.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { tokenIds } from '../../simulator/tokens.js';
import { inFlight, mapOnly, serve, startWorld, until, verdictSays, type World } from './helpers.js';

// OneBit end to end at the routing level: the classifier is a simulated engine whose verdict the
// request's text scripts (`[[sim:answer …]]`); faults come from the simulator's x-sim-fault header.

let light: RunningSimulator;
let heavy: RunningSimulator;
const worlds: World[] = [];

beforeAll(async () => {
  light = await startSimulator({ profile: 'instant', faults: true, models: ['light-model'] });
  heavy = await startSimulator({ profile: 'instant', models: ['heavy-model'] });
});
afterAll(async () => {
  await Promise.all([light.close(), heavy.close()]);
});
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

const PRICE = { input_per_mtok: 1, cached_input_per_mtok: 0.5, output_per_mtok: 2 };

async function world(onebit: Record<string, unknown> = {}, light_: Record<string, unknown> = {}): Promise<World> {
  const w = await startWorld({
    backends: {
      light: { engine: 'simulator', urls: [light.url], price: PRICE, ...light_ },
      heavy: { engine: 'simulator', urls: [heavy.url] },
    },
    mappers: {
      route: {
        kind: 'onebit',
        classifier: { backend: 'light', model: 'light-model', timeout_ms: 10_000 },
        simple: { backend: 'light', model: 'light-model' },
        complex: { backend: 'heavy', model: 'heavy-model', params: { temperature: 0.2 } },
        ...onebit,
      },
    },
    stages: { solve: { mapper: 'route' }, default: { backend: 'heavy', model: 'heavy-model' } },
  });
  worlds.push(w);
  return w;
}

const classifierCalls = (w: World) => w.sent.filter((s) => s.body.response_format?.json_schema?.name === 'onebit_verdict');

describe('OneBit', () => {
  it('a true verdict sends the request to the simple side', async () => {
    const w = await world();
    const { target, status } = await serve(w, { stage: 'solve', content: verdictSays('Fix a typo.', '{"prediction": true}') });
    expect(status).toBe(200);
    expect(target).toMatchObject({ stage: 'solve', backend: 'light', model: 'light-model', mapped: { mapper: 'route', verdict: 'simple' } });
  });

  it('a false verdict sends it to the complex side, with that side\'s params', async () => {
    const w = await world();
    const { target, status } = await serve(w, { stage: 'solve', content: verdictSays('Redesign the cache.', '{"prediction": false}') });
    expect(status).toBe(200);
    expect(target).toMatchObject({ backend: 'heavy', model: 'heavy-model', params: { temperature: 0.2 }, mapped: { verdict: 'complex' } });
    expect(w.sent.at(-1)).toMatchObject({ url: heavy.url, body: { model: 'heavy-model', temperature: 0.2 } });
  });

  it('asks the classifier at temperature 0 for a strict {prediction: boolean} in its own queue stage', async () => {
    const w = await world();
    await mapOnly(w, { stage: 'solve', content: verdictSays('Fix a typo.', '{"prediction": true}') });
    const [call] = classifierCalls(w);
    expect(call!.url).toBe(light.url);
    expect(call!.body).toMatchObject({
      model: 'light-model',
      temperature: 0,
      max_tokens: 16,
      stream: false,
      response_format: {
        type: 'json_schema',
        json_schema: { strict: true, schema: { type: 'object', properties: { prediction: { type: 'boolean' } }, required: ['prediction'], additionalProperties: false } },
      },
    });
    expect(call!.body.messages[0].content).toContain('small, fast language model');
    expect(call!.body.messages[1].content).toContain('Fix a typo.');
  });

  it('uses a preset or a custom prompt when the mapper names one', async () => {
    const preset = await world({ prompt: 'swe-bench' });
    await mapOnly(preset, { stage: 'solve', content: verdictSays('x', '{"prediction": true}') });
    expect(classifierCalls(preset)[0]!.body.messages[0].content).toContain('the fix is likely small and local');
    const custom = await world({ prompt: { text: 'Judge it.' } });
    await mapOnly(custom, { stage: 'solve', content: verdictSays('x', '{"prediction": true}') });
    expect(classifierCalls(custom)[0]!.body.messages[0].content).toBe('Judge it.');
  });

  it('reads at most max_content_chars of the request', async () => {
    const w = await world({ max_content_chars: 40 });
    await mapOnly(w, { stage: 'solve', content: verdictSays('a'.repeat(500), '{"prediction": true}') });
    expect(classifierCalls(w)[0]!.body.messages[1].content.length).toBeLessThan(100);
  });

  it('reads the user\'s turns, not the request\'s system prompt; `reads: all` reads both', async () => {
    const messages = [
      { role: 'system', content: 'You are a coding agent.' },
      { role: 'user', content: verdictSays('Fix a typo.', '{"prediction": true}') },
    ];
    const user = await world();
    await mapOnly(user, { stage: 'solve', content: '', extra: { messages } });
    const read = classifierCalls(user)[0]!.body.messages[1].content;
    expect(read).toContain('Fix a typo.');
    expect(read).not.toContain('coding agent');
    const all = await world({ reads: 'all' });
    await mapOnly(all, { stage: 'solve', content: '', extra: { messages } });
    expect(classifierCalls(all)[0]!.body.messages[1].content).toContain('You are a coding agent.\n\n[[sim:answer');
  });

  it('sends the fixed instructions first, so the engine\'s prefix cache serves them at the cached price', async () => {
    const w = await world();
    await mapOnly(w, { stage: 'solve', content: verdictSays('Fix a typo.', '{"prediction": true}') });
    const target = await mapOnly(w, { stage: 'solve', content: verdictSays('Rename a variable.', '{"prediction": true}') });
    const [first, second] = classifierCalls(w);
    expect(second!.body.messages[0]).toEqual({ role: 'system', content: promptText('general') });
    expect(first!.body.messages[0]).toEqual(second!.body.messages[0]);
    expect(second!.body.messages[1].content).toContain('Rename a variable.');
    const { usage } = w.observed.usage[1]!;
    const blocks = 16; // the engine caches whole blocks of 16 tokens
    expect(usage.cachedTokens).toBeGreaterThanOrEqual(tokenIds(promptText('general')).length - blocks);
    expect(usage.cachedTokens).toBeLessThan(usage.promptTokens);
    expect(target.mapped!.costUsd).toBe(costOf(usage, PRICE));
    expect(target.mapped!.costUsd).toBeLessThan(costOf({ ...usage, cachedTokens: 0 }, PRICE));
  });

  it.each([
    ['an unparsable answer', 'not json at all', 'invalid'],
    ['a schema-invalid answer', '{"prediction": "yes"}', 'invalid'],
    ['an answer with extra keys', '{"prediction": true, "why": "short"}', 'invalid'],
  ])('%s falls back to the complex side and the request still succeeds', async (_name, answer, reason) => {
    const w = await world();
    const { target, status } = await serve(w, { stage: 'solve', content: verdictSays('Fix it.', answer) });
    expect(status).toBe(200);
    expect(target).toMatchObject({ backend: 'heavy', mapped: { verdict: 'fallback' } });
    expect(w.observed.failed).toEqual([{ mapper: 'route', reason }]);
  });

  it('a classifier that does not answer in time falls back, and its slot is freed', async () => {
    const w = await world({ classifier: { backend: 'light', model: 'light-model', timeout_ms: 100 } });
    w.faults.set(light.url, 'hang');
    const { target, status } = await serve(w, { stage: 'solve', content: verdictSays('Fix it.', '{"prediction": true}') });
    expect(status).toBe(200);
    expect(target).toMatchObject({ backend: 'heavy', mapped: { verdict: 'fallback' } });
    expect(w.observed.failed).toEqual([{ mapper: 'route', reason: 'timeout' }]);
    await until(() => inFlight(w.backends.get('light')!) === 0, 'the classifier slot to be released');
  });

  it('a classification ends by the request\'s own deadline (X-Orla-Deadline-Ms), before its timeout', async () => {
    const w = await world({ classifier: { backend: 'light', model: 'light-model', timeout_ms: 60_000 } });
    w.faults.set(light.url, 'hang');
    const body = { model: 'x', messages: [{ role: 'user', content: 'Fix it.' }] };
    const identity = identify({ 'x-orla-stage': 'solve', 'x-orla-deadline-ms': '50' }, body);
    const target = await w.mapper.map({ identity, body, deadlineAt: performance.now() + 50 });
    expect(target).toMatchObject({ backend: 'heavy', mapped: { verdict: 'fallback' } });
    expect(w.observed.failed).toEqual([{ mapper: 'route', reason: 'timeout' }]);
    await until(() => inFlight(w.backends.get('light')!) === 0, 'the classifier slot to be released');
  });

  it('a classifier whose connection fails falls back to the configured side', async () => {
    const w = await world({ fallback: 'simple' }, { retries: { attempts: 0 } });
    w.faults.set(light.url, 'reset');
    const target = await mapOnly(w, { stage: 'solve', content: 'Fix it.' });
    expect(target).toMatchObject({ backend: 'light', model: 'light-model', mapped: { verdict: 'fallback' } });
    expect(w.observed.failed).toEqual([{ mapper: 'route', reason: 'error' }]);
  });

  it('a classifier answering with an error status falls back', async () => {
    const w = await world({}, { retries: { attempts: 0 } });
    w.faults.set(light.url, 'status=500');
    const target = await mapOnly(w, { stage: 'solve', content: 'Fix it.' });
    expect(target).toMatchObject({ backend: 'heavy', mapped: { verdict: 'fallback' } });
    expect(w.observed.failed).toEqual([{ mapper: 'route', reason: 'error' }]);
  });

  it('judges the same content once; a different content is judged again', async () => {
    const w = await world();
    const same = verdictSays('Fix a typo.', '{"prediction": true}');
    await mapOnly(w, { stage: 'solve', content: same });
    const again = await mapOnly(w, { stage: 'solve', content: same });
    expect(again).toMatchObject({ backend: 'light', mapped: { verdict: 'simple', costUsd: 0 } });
    expect(classifierCalls(w)).toHaveLength(1);
    expect(w.observed.mapped.map((m) => m.cached)).toEqual([false, true]);
    await mapOnly(w, { stage: 'solve', content: verdictSays('Another typo.', '{"prediction": true}') });
    expect(classifierCalls(w)).toHaveLength(2);
  });

  it('does not keep a fallback: the next identical request is judged again', async () => {
    const w = await world();
    const content = verdictSays('Fix it.', 'garbage');
    await mapOnly(w, { stage: 'solve', content });
    await mapOnly(w, { stage: 'solve', content });
    expect(classifierCalls(w)).toHaveLength(2);
  });

  it('with cache_size 0, judges every request', async () => {
    const w = await world({ cache_size: 0 });
    const content = verdictSays('Fix it.', '{"prediction": false}');
    await mapOnly(w, { stage: 'solve', content });
    await mapOnly(w, { stage: 'solve', content });
    expect(classifierCalls(w)).toHaveLength(2);
  });

  it('the classifier call waits in its backend\'s queue as stage onebit:<mapper>', async () => {
    const w = await world({}, { max_concurrency: 1 });
    const lightBackend = w.backends.get('light')!;
    const held = await lightBackend.acquire({ stage: 'other', run: undefined, priority: 0, promptTokens: 1 });
    const mapped = mapOnly(w, { stage: 'solve', content: verdictSays('Fix it.', '{"prediction": true}') });
    await until(() => lightBackend.snapshot().queues['onebit:route'] === 1, 'the classifier call to queue');
    expect(classifierCalls(w)).toHaveLength(0);
    held.release('success');
    expect(await mapped).toMatchObject({ backend: 'light', mapped: { verdict: 'simple' } });
  });

  it('a classifier call still queued at its timeout leaves the queue and the request falls back', async () => {
    const w = await world({ classifier: { backend: 'light', model: 'light-model', timeout_ms: 100 } }, { max_concurrency: 1 });
    const lightBackend = w.backends.get('light')!;
    const held = await lightBackend.acquire({ stage: 'other', run: undefined, priority: 0, promptTokens: 1 });
    const target = await mapOnly(w, { stage: 'solve', content: verdictSays('Fix it.', '{"prediction": true}') });
    expect(target).toMatchObject({ backend: 'heavy', mapped: { verdict: 'fallback' } });
    expect(lightBackend.queued).toBe(0);
    expect(classifierCalls(w)).toHaveLength(0);
    held.release('success');
  });

  it('a client that leaves while its classification waits ends the mapping with 499', async () => {
    const w = await world({}, { max_concurrency: 1 });
    const lightBackend = w.backends.get('light')!;
    const held = await lightBackend.acquire({ stage: 'other', run: undefined, priority: 0, promptTokens: 1 });
    const client = new AbortController();
    const mapped = mapOnly(w, { stage: 'solve', content: 'Fix it.', signal: client.signal });
    await until(() => lightBackend.queued === 1, 'the classifier call to queue');
    client.abort();
    const error = await mapped.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OrlaError);
    expect((error as OrlaError).status).toBe(499);
    expect(lightBackend.queued).toBe(0);
    held.release('success');
  });

  it('counts what the classification cost, at the classifier backend\'s price', async () => {
    const w = await world();
    const target = await mapOnly(w, { stage: 'solve', content: verdictSays('Fix it.', '{"prediction": true}') });
    const [usage] = w.observed.usage;
    expect(usage).toMatchObject({ backend: 'light', stage: 'onebit:route' });
    expect(usage!.usage.promptTokens).toBeGreaterThan(0);
    expect(target.mapped!.costUsd).toBeGreaterThan(0);
    expect(target.mapped!.costUsd).toBe(costOf(usage!.usage, PRICE));
    expect(usage!.costUsd).toBe(target.mapped!.costUsd);
  });
});
