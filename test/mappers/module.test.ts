import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mapOnly, startWorld, type World } from './helpers.js';

const worlds: World[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

const dir = mkdtempSync(join(tmpdir(), 'orla-mapper-'));
// The README's example, verbatim.
writeFileSync(
  join(dir, 'tier-mapper.mjs'),
  `// Premium customers get the heavy model; everyone else whichever backend would start sooner.
export default {
  name: 'tier',
  choose({ request, backends }) {
    if (request.identity.tags.tier === 'premium') return { backend: 'heavy', model: 'Qwen/Qwen3-8B', verdict: 'complex' };
    const light = backends.get('light');
    const heavy = backends.get('heavy');
    return light.estimatedWaitMs <= heavy.estimatedWaitMs
      ? { backend: 'light', model: 'Qwen/Qwen3-4B', verdict: 'simple' }
      : { backend: 'heavy', model: 'Qwen/Qwen3-8B', verdict: 'complex' };
  },
};
`,
);
writeFileSync(
  join(dir, 'echo.mjs'),
  `export default {
  name: 'echo',
  choose: async ({ stage, request, backends }) => ({
    backend: 'light',
    params: { seen: { stage, run: request.identity.run, queued: backends.get('light').queued, circuitOpen: backends.get('heavy').circuitOpen, quality: backends.get('heavy').quality } },
  }),
};
`,
);
writeFileSync(join(dir, 'nowhere.mjs'), `export default { name: 'nowhere', choose: () => ({ backend: 'gpu-farm' }) };\n`);
writeFileSync(join(dir, 'no-choose.mjs'), `export default { name: 'broken' };\n`);

async function world(path: string, light: Record<string, unknown> = {}): Promise<World> {
  const w = await startWorld(
    {
      backends: {
        light: { engine: 'vllm', urls: ['http://127.0.0.1:9'], ...light },
        heavy: { engine: 'vllm', urls: ['http://127.0.0.1:9'], quality: 0.9 },
      },
      mappers: { custom: { kind: 'module', path } },
      stages: { support: { mapper: 'custom' } },
    },
    dir,
  );
  worlds.push(w);
  return w;
}

describe('a custom mapper module', () => {
  it('decides from the request\'s tags', async () => {
    const w = await world('./tier-mapper.mjs');
    const target = await mapOnly(w, { stage: 'support', content: 'hi', headers: { 'x-orla-tag-tier': 'premium' } });
    expect(target).toMatchObject({ stage: 'support', backend: 'heavy', model: 'Qwen/Qwen3-8B', mapped: { mapper: 'custom', verdict: 'complex' } });
    expect(await mapOnly(w, { stage: 'support', content: 'hi' })).toMatchObject({ backend: 'light', model: 'Qwen/Qwen3-4B' });
  });

  it('decides from the backends\' live state', async () => {
    const w = await world('./tier-mapper.mjs', { max_concurrency: 1 });
    const light = w.backends.get('light')!;
    const ticket = { stage: 'other', run: undefined, priority: 0, promptTokens: 1 };
    const held = await light.acquire(ticket);
    const queued = light.acquire(ticket);
    expect(await mapOnly(w, { stage: 'support', content: 'hi' })).toMatchObject({ backend: 'heavy' });
    held.release('neutral');
    (await queued).release('neutral');
  });

  it('sees the stage, the request and each backend\'s state', async () => {
    const w = await world('./echo.mjs');
    const target = await mapOnly(w, { stage: 'support', content: 'hi', headers: { 'x-orla-workflow-run': 'run-7' } });
    expect(target.params).toEqual({ seen: { stage: 'support', run: 'run-7', queued: 0, circuitOpen: false, quality: 0.9 } });
  });

  it('a choice of a backend that does not exist fails the request with a message naming the mapper', async () => {
    const w = await world('./nowhere.mjs');
    await expect(mapOnly(w, { stage: 'support', content: 'hi' })).rejects.toThrow('mapper custom chose backend "gpu-farm", which does not exist');
  });

  it('a module without choose() stops the start', async () => {
    await expect(world('./no-choose.mjs')).rejects.toThrow(/mappers\.custom\.path: module "\.\/no-choose\.mjs" must export default \{ name, choose\(context\) \}/);
  });

  it('a module that does not exist stops the start', async () => {
    await expect(world('./missing.mjs')).rejects.toThrow(/mappers\.custom\.path: cannot load module "\.\/missing\.mjs"/);
  });
});
