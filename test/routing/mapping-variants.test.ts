import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../config/load.js';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway, twoBackendConfig } from '../helpers/gateway.js';
import { startRecordingEngine, type RecordingEngine } from '../helpers/recording-engine.js';

// Named mapping variants: `mappings:` in the config, picked per request with X-Orla-Mapping.

let light: RecordingEngine;
let heavy: RecordingEngine;
let gateway: RunningGateway;

const withVariants = () => ({
  ...twoBackendConfig(light.url, heavy.url),
  mappings: {
    'all-heavy': { classify: { backend: 'heavy', model: 'heavy-model', params: { temperature: 0.5 } } },
    'all-light': { reply: { backend: 'light', model: 'light-model' }, default: { backend: 'light' } },
  },
});

beforeAll(async () => {
  [light, heavy] = await Promise.all([startRecordingEngine(), startRecordingEngine()]);
  gateway = await startTestGateway(withVariants());
});
afterAll(async () => {
  await gateway.close();
  await Promise.all([light.close(), heavy.close()]);
});

async function chat(headers: Record<string, string>, extra: Record<string, unknown> = {}) {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'client-model', messages: [{ role: 'user', content: 'hi' }], ...extra }),
  });
  return { res, body: (await res.json()) as Record<string, any> };
}

describe('X-Orla-Mapping', () => {
  it('without a mapping, stages go where `stages:` maps them', async () => {
    const { res } = await chat({ 'x-orla-stage': 'classify' });
    expect(res.headers.get('x-orla-backend')).toBe('light');
    expect(light.received.at(-1)!.body).toMatchObject({ model: 'light-model', temperature: 0 });
  });

  it("a variant remaps the stages it names, with its own model and params; the stage's name stays", async () => {
    const { res } = await chat({ 'x-orla-stage': 'classify', 'x-orla-mapping': 'all-heavy' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-orla-backend')).toBe('heavy');
    expect(res.headers.get('x-orla-stage')).toBe('classify');
    expect(heavy.received.at(-1)!.body).toMatchObject({ model: 'heavy-model', temperature: 0.5 });
    expect(heavy.received.at(-1)!.headers['x-orla-mapping']).toBeUndefined();
  });

  it('leaves the stages a variant does not name as configured', async () => {
    const { res } = await chat({ 'x-orla-stage': 'reply', 'x-orla-mapping': 'all-heavy' });
    expect(res.headers.get('x-orla-backend')).toBe('heavy');
    expect(heavy.received.at(-1)!.body.model).toBe('heavy-model');
  });

  it('applies to untagged requests through the default stage, and reads the metadata form', async () => {
    const { res } = await chat({}, { metadata: { 'orla.mapping': 'all-light' } });
    expect(res.headers.get('x-orla-backend')).toBe('light');
    // The default stage's remap names no model: the client's is kept, and Orla's metadata is gone.
    expect(light.received.at(-1)!.body.model).toBe('client-model');
    expect(light.received.at(-1)!.body.metadata).toBeUndefined();
  });

  it('answers 400 naming the known mappings for one that does not exist, and forwards nothing', async () => {
    const before = light.received.length + heavy.received.length;
    const { res, body } = await chat({ 'x-orla-stage': 'classify', 'x-orla-mapping': 'all-hevy' });
    expect(res.status).toBe(400);
    expect(body.error.code).toBe('mapping_not_found');
    expect(body.error.message).toBe('X-Orla-Mapping: unknown mapping "all-hevy" (known: all-heavy, all-light)');
    expect(light.received.length + heavy.received.length).toBe(before);
  });
});

describe('mappings: in the config', () => {
  const problems = (mappings: unknown, extra: Record<string, unknown> = {}) => {
    try {
      validateConfig({ ...twoBackendConfig('http://127.0.0.1:1', 'http://127.0.0.1:2'), ...extra, mappings }, { env: {} });
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };

  it('accepts a valid variant', () => {
    expect(problems({ cheap: { reply: { backend: 'light', model: 'light-model' } } })).toEqual([]);
  });

  it('names each mistake under mappings.<variant>.<stage>', () => {
    expect(problems({ cheap: { replies: { backend: 'light' } } })).toEqual(['mappings.cheap.replies: unknown stage "replies" (known: classify, reply, default)']);
    expect(problems({ cheap: { reply: { backend: 'lite' } } })).toEqual(['mappings.cheap.reply.backend: unknown backend "lite" (known: light, heavy)']);
    expect(problems({ cheap: { reply: { model: 'm' } } })).toEqual(['mappings.cheap.reply.backend: is required (or name a mapper with `mapper`)']);
    expect(problems({ cheap: { reply: { mapper: 'route' } } })).toEqual(['mappings.cheap.reply.mapper: unknown mapper "route" (no `mappers` are configured)']);
    expect(problems({ cheap: { reply: { backend: 'light', params: { model: 'x' } } } })).toEqual([
      "mappings.cheap.reply.params.model: set the stage's model with `model`, not in params",
    ]);
  });

  it('refuses a name that cannot travel in a header', () => {
    expect(problems({ 'a b': { reply: { backend: 'light' } } })).toEqual(['mappings.a b: a mapping name is 1–64 letters, digits, or . _ : -']);
  });
});
