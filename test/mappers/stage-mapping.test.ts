import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OrlaError } from '../../errors.js';
import { ExplicitMapper } from '../../routing/mappers/explicit.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { mapOnly, serve, startWorld, verdictSays, type World } from './helpers.js';

// createMapper's one StageMapper: explicit stages exactly as before, mapper stages through their mapper.

let light: RunningSimulator;
let heavy: RunningSimulator;
const worlds: World[] = [];

beforeAll(async () => {
  light = await startSimulator({ profile: 'instant', models: ['small'] });
  heavy = await startSimulator({ profile: 'instant', models: ['big'] });
});
afterAll(async () => {
  await Promise.all([light.close(), heavy.close()]);
});
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

const RAW = () => ({
  backends: { light: { engine: 'simulator', urls: [light.url] }, heavy: { engine: 'simulator', urls: [heavy.url] } },
  mappers: {
    route: {
      kind: 'onebit',
      classifier: { backend: 'light', model: 'small' },
      simple: { backend: 'light', model: 'small', params: { max_tokens: 4 } },
      complex: { backend: 'heavy', model: 'big' },
    },
  },
  stages: {
    classify: { backend: 'light', model: 'small', params: { temperature: 0 } },
    solve: { mapper: 'route', params: { temperature: 0.1, max_tokens: 64 }, fallbacks: [{ backend: 'light', model: 'small' }], reroute_wait_ms: 1000 },
    default: { backend: 'heavy', model: 'big' },
  },
});

async function world(raw: Record<string, any> = RAW()): Promise<World> {
  const w = await startWorld(raw);
  worlds.push(w);
  return w;
}

describe('stage mapping', () => {
  it('maps explicit stages exactly as the explicit mapper does', async () => {
    const w = await world();
    const explicit = new ExplicitMapper(w.config.stages);
    for (const stage of ['classify', undefined, 'no-such-stage']) {
      const call = { content: 'hi', ...(stage ? { stage } : {}) };
      const expected = await mapOnly({ ...w, mapper: explicit }, call);
      expect(await mapOnly(w, call)).toEqual(expected);
      expect(expected.mapped).toBeUndefined();
    }
  });

  it('a stage named through the model that does not exist is still a 404', async () => {
    const w = await world();
    const error = await mapOnly(w, { content: 'hi', extra: { model: 'orla:sovle' } }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OrlaError);
    expect(error).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('a mapper stage keeps its own queue name, fallbacks and reroute wait, and its params under the side\'s', async () => {
    const w = await world();
    const target = await mapOnly(w, { stage: 'solve', content: verdictSays('Fix it.', '{"prediction": true}') });
    expect(target).toEqual({
      stage: 'solve',
      backend: 'light',
      model: 'small',
      params: { temperature: 0.1, max_tokens: 4 },
      fallbacks: [{ stage: 'solve', backend: 'light', model: 'small', params: undefined, fallbacks: [], rerouteWaitMs: undefined }],
      rerouteWaitMs: 1000,
      mapped: { mapper: 'route', verdict: 'simple', costUsd: 0 },
    });
  });

  it('a mapped request whose backend cannot serve goes to the stage\'s fallback', async () => {
    const w = await world();
    const big = w.backends.get('heavy')!;
    for (let i = 0; i < big.config.circuit.failures; i++) big.replicas[0]!.circuit.record(false, performance.now());
    const { target, status, json } = await serve(w, { stage: 'solve', content: verdictSays('Redesign it.', '{"prediction": false}') });
    expect(status).toBe(200);
    expect(target).toMatchObject({ backend: 'light', model: 'small' });
    expect(json.model).toBe('small');
  });

  it('a default stage with a mapper maps untagged requests', async () => {
    const raw = RAW();
    raw.stages = { default: { mapper: 'route' } } as any;
    const w = await world(raw);
    expect(await mapOnly(w, { content: verdictSays('Fix it.', '{"prediction": false}') })).toMatchObject({ stage: 'default', backend: 'heavy', mapped: { verdict: 'complex' } });
  });
});
