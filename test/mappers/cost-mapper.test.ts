import { afterEach, describe, expect, it } from 'vitest';
import { OrlaError } from '../../errors.js';
import { mapOnly, startWorld, type World } from './helpers.js';

// Three backends of rising quality and price; the request's X-Orla-Quality picks among them.

const worlds: World[] = [];
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

const backend = (quality: number, input: number, output: number) => ({
  engine: 'vllm',
  urls: ['http://127.0.0.1:9'],
  quality,
  price: { input_per_mtok: input, output_per_mtok: output },
});

async function world(mapper: Record<string, unknown> = {}): Promise<World> {
  const w = await startWorld({
    backends: { small: backend(0.5, 0.05, 0.2), medium: backend(0.7, 0.1, 0.4), large: backend(0.9, 0.5, 2) },
    mappers: {
      cheapest: {
        kind: 'cost',
        candidates: [{ backend: 'large', model: 'L' }, { backend: 'medium', model: 'M' }, { backend: 'small', model: 'S' }],
        ...mapper,
      },
    },
    stages: { default: { mapper: 'cheapest' } },
  });
  worlds.push(w);
  return w;
}

const quality = (q: string) => ({ 'x-orla-quality': q });

describe('the cost mapper', () => {
  it('picks the cheapest backend whose quality meets the request\'s', async () => {
    const w = await world();
    expect(await mapOnly(w, { content: 'hi', headers: quality('0.6') })).toMatchObject({ backend: 'medium', model: 'M', mapped: { mapper: 'cheapest' } });
    expect(await mapOnly(w, { content: 'hi', headers: quality('0.85') })).toMatchObject({ backend: 'large' });
  });

  it('without X-Orla-Quality, asks for default_quality', async () => {
    expect(await mapOnly(await world(), { content: 'hi' })).toMatchObject({ backend: 'small' });
    expect(await mapOnly(await world({ default_quality: 0.7 }), { content: 'hi' })).toMatchObject({ backend: 'medium' });
  });

  it('strict: a quality no backend offers is a 400 naming X-Orla-Quality', async () => {
    const w = await world({ mode: 'strict' });
    const error = await mapOnly(w, { content: 'hi', headers: quality('0.95') }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OrlaError);
    expect(error).toMatchObject({ status: 400, param: 'x-orla-quality', code: 'quality_unavailable' });
    expect((error as OrlaError).message).toContain('the best is large at 0.9');
  });

  it('prefer: a quality no backend offers gets the best there is', async () => {
    const w = await world({ mode: 'prefer' });
    expect(await mapOnly(w, { content: 'hi', headers: quality('0.95') })).toMatchObject({ backend: 'large' });
  });

  it('skips a backend whose circuits are all open while another qualifies', async () => {
    const w = await world();
    const small = w.backends.get('small')!;
    for (let i = 0; i < small.config.circuit.failures; i++) small.replicas[0]!.circuit.record(false, performance.now());
    expect(small.circuitOpen()).toBe(true);
    expect(await mapOnly(w, { content: 'hi' })).toMatchObject({ backend: 'medium' });
  });

  it('ranks by this request\'s estimated cost: input-heavy and output-heavy requests can differ', async () => {
    // cheap-in charges little for input and much for output; cheap-out the reverse.
    const w = await startWorld({
      backends: {
        'cheap-in': { engine: 'vllm', urls: ['http://127.0.0.1:9'], quality: 1, price: { input_per_mtok: 0.1, output_per_mtok: 10 } },
        'cheap-out': { engine: 'vllm', urls: ['http://127.0.0.1:9'], quality: 1, price: { input_per_mtok: 1, output_per_mtok: 1 } },
      },
      mappers: { c: { kind: 'cost', candidates: [{ backend: 'cheap-in' }, { backend: 'cheap-out' }], output_tokens: 1 } },
      stages: { default: { mapper: 'c' } },
    });
    worlds.push(w);
    expect(await mapOnly(w, { content: 'long prompt '.repeat(1000) })).toMatchObject({ backend: 'cheap-in' });
    expect(await mapOnly(w, { content: 'short', extra: { max_tokens: 4000 } })).toMatchObject({ backend: 'cheap-out' });
  });
});
