import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyModels } from '../../routing/mappers/verify-models.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startWorld, type World } from './helpers.js';

// verify_models: true asks each backend's /v1/models at start.

let light: RunningSimulator;
let heavy: RunningSimulator;
const worlds: World[] = [];

beforeAll(async () => {
  light = await startSimulator({ profile: 'instant', models: ['Qwen/Qwen3-4B'] });
  heavy = await startSimulator({ profile: 'instant', models: ['Qwen/Qwen3-8B', 'qwen3-8b'] });
});
afterAll(async () => {
  await Promise.all([light.close(), heavy.close()]);
});
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

async function check(models: { classifier: string; complex: string; stage: string }, heavyUrl?: string): Promise<string[]> {
  const w = await startWorld({
    verify_models: true,
    backends: { light: { engine: 'simulator', urls: [light.url] }, heavy: { engine: 'simulator', urls: [heavyUrl ?? heavy.url] } },
    mappers: {
      route: {
        kind: 'onebit',
        classifier: { backend: 'light', model: models.classifier },
        simple: { backend: 'light' },
        complex: { backend: 'heavy', model: models.complex },
      },
    },
    stages: { solve: { mapper: 'route' }, default: { backend: 'heavy', model: models.stage } },
  });
  worlds.push(w);
  expect(w.config.verify_models).toBe(true);
  return verifyModels(w.config, w.backends, 2_000);
}

describe('verify_models', () => {
  it('finds nothing wrong when every backend serves the models the config names', async () => {
    expect(await check({ classifier: 'Qwen/Qwen3-4B', complex: 'Qwen/Qwen3-8B', stage: 'qwen3-8b' })).toEqual([]);
  });

  it('names each model a backend does not serve, with what it serves', async () => {
    expect(await check({ classifier: 'Qwen/Qwen3-4B-Instruct', complex: 'Qwen/Qwen3-8B', stage: 'Qwen/Qwen3-14B' })).toEqual([
      'stages.default.model: backend heavy does not serve "Qwen/Qwen3-14B" (it serves: Qwen/Qwen3-8B, qwen3-8b)',
      'mappers.route.classifier.model: backend light does not serve "Qwen/Qwen3-4B-Instruct" (it serves: Qwen/Qwen3-4B)',
    ]);
  });

  it('says which backend could not be asked', async () => {
    const found = await check({ classifier: 'Qwen/Qwen3-4B', complex: 'Qwen/Qwen3-8B', stage: 'Qwen/Qwen3-8B' }, 'http://127.0.0.1:9');
    expect(found).toEqual(['backends.heavy: cannot list the models of http://127.0.0.1:9: ECONNREFUSED']);
  });
});
