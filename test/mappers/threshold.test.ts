import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mapOnly, startWorld, type World } from './helpers.js';

// No request reaches an engine here: mapping reads only the request and the config.

const worlds: World[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

async function world(mapper: Record<string, unknown>, baseDir?: string): Promise<World> {
  const w = await startWorld(
    {
      backends: { light: { engine: 'vllm', urls: ['http://127.0.0.1:9'] }, heavy: { engine: 'vllm', urls: ['http://127.0.0.1:9'] } },
      mappers: { size: { kind: 'threshold', simple: { backend: 'light', model: 'small' }, complex: { backend: 'heavy', model: 'big' }, ...mapper } },
      stages: { default: { mapper: 'size' } },
    },
    baseDir,
  );
  worlds.push(w);
  return w;
}

describe('the threshold mapper', () => {
  it('sends a prompt estimated below the threshold to the simple side', async () => {
    const w = await world({ threshold: 100 });
    expect(await mapOnly(w, { content: 'word '.repeat(40) })).toMatchObject({ backend: 'light', model: 'small', mapped: { mapper: 'size', verdict: 'simple' } });
  });

  it('sends a prompt at or above the threshold to the complex side', async () => {
    const w = await world({ threshold: 100 });
    expect(await mapOnly(w, { content: 'word '.repeat(80) })).toMatchObject({ backend: 'heavy', model: 'big', mapped: { verdict: 'complex' } });
  });

  it('uses a custom score module instead of the prompt length', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orla-score-'));
    // Urgent requests score high: they go to the heavy model whatever their length.
    writeFileSync(join(dir, 'urgency.mjs'), 'export default (request) => (request.identity.tags.urgent === "yes" ? 10 : 0);\n');
    const w = await world({ threshold: 5, score: './urgency.mjs' }, dir);
    expect(await mapOnly(w, { content: 'short', headers: { 'x-orla-tag-urgent': 'yes' } })).toMatchObject({ backend: 'heavy' });
    expect(await mapOnly(w, { content: 'short' })).toMatchObject({ backend: 'light' });
  });

  it('a score module that cannot be loaded stops the start with its key', async () => {
    await expect(world({ threshold: 5, score: './missing.mjs' }, tmpdir())).rejects.toThrow(/mappers\.size\.score: cannot load module "\.\/missing\.mjs"/);
  });
});
