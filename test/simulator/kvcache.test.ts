import { describe, expect, it } from 'vitest';
import { chainRoot, PrefixCache } from '../../simulator/kvcache.js';

const BLOCK = 16;
const tokens = (n: number, seed = 1) => Uint32Array.from({ length: n }, (_, i) => (i * 2654435761 + seed * 97) >>> 0);

/** Allocates a request and marks its whole prompt computed, as the engine does after prefill. */
function run(cache: PrefixCache, prompt: Uint32Array, options: { salt?: string; session?: string; output?: number } = {}) {
  const hashes = cache.hashBlocks(prompt, prompt.length, chainRoot(options.salt));
  const allocation = cache.allocate(hashes, prompt.length, prompt.length + (options.output ?? 1), options.session ?? '');
  if (allocation) cache.commit(allocation, hashes, Math.floor(prompt.length / BLOCK));
  return allocation;
}

describe('prefix cache', () => {
  it('reuses a shared prefix in full blocks only', () => {
    const cache = new PrefixCache(16_000, BLOCK);
    const base = tokens(100);
    cache.release(run(cache, base)!);
    const longer = new Uint32Array([...base, ...tokens(40, 2)]);
    const second = run(cache, longer)!;
    expect(second.cachedTokens).toBe(96); // 6 full blocks of the 100 shared tokens
    expect(cache.stats()).toMatchObject({ queryTokens: 240, hitTokens: 96 });
  });

  it('always leaves at least one prompt token to compute', () => {
    const cache = new PrefixCache(16_000, BLOCK);
    const prompt = tokens(64);
    cache.release(run(cache, prompt)!);
    expect(run(cache, prompt)!.cachedTokens).toBe(48);
  });

  it('isolates requests with different cache salts', () => {
    const cache = new PrefixCache(16_000, BLOCK);
    const prompt = tokens(200);
    cache.release(run(cache, prompt, { salt: 'tenant-a' })!);
    expect(run(cache, prompt, { salt: 'tenant-b' })!.cachedTokens).toBe(0);
    expect(run(cache, prompt)!.cachedTokens).toBe(0);
    expect(run(cache, prompt, { salt: 'tenant-a' })!.cachedTokens).toBe(192);
  });

  it('counts only blocks held by running requests as usage, and keeps freed blocks resident', () => {
    const cache = new PrefixCache(1600, BLOCK); // 100 blocks
    const allocation = run(cache, tokens(320), { output: 160 })!; // 20 + 10 blocks
    expect(cache.stats().usage).toBeCloseTo(0.3, 9);
    cache.release(allocation);
    expect(cache.stats()).toMatchObject({ usage: 0, residentBlocks: 20, idleBlocks: 20 });
  });

  it('evicts the least recently freed idle blocks at capacity, tail first, never blocks a running request holds', () => {
    const cache = new PrefixCache(1600, BLOCK); // 100 blocks
    const old = tokens(480, 1); // 30 full blocks (+1 reserved for the output while running)
    const held = tokens(480, 2);
    const recent = tokens(320, 3); // 20 full blocks
    cache.release(run(cache, old, { output: 16 })!);
    const running = run(cache, held, { output: 16 })!;
    cache.release(run(cache, recent, { output: 16 })!);
    // 30 idle old + 31 held + 20 idle recent; 31 more blocks must come from evicting the oldest idle ones.
    cache.release(run(cache, tokens(480, 4), { output: 16 })!);
    expect(cache.stats().residentBlocks).toBe(98);
    const again = run(cache, held)!; // the running request's prefix is intact
    expect(again.cachedTokens).toBe(464);
    cache.release(again);
    expect(run(cache, recent)!.cachedTokens).toBe(304); // the recently freed prefix survived
    const oldHit = run(cache, old)!.cachedTokens; // the old one lost its tail first, kept its head
    expect(oldHit).toBeGreaterThan(0);
    expect(oldHit).toBeLessThan(464);
    cache.release(running);
  });

  it('refuses a reset while blocks are held, and drops everything once they are not', () => {
    const cache = new PrefixCache(16_000, BLOCK);
    const allocation = run(cache, tokens(100))!;
    expect(cache.reset()).toBe(false);
    expect(cache.stats().residentBlocks).toBe(6);
    cache.release(allocation);
    expect(cache.reset()).toBe(true);
    expect(cache.stats().residentBlocks).toBe(0);
    expect(run(cache, tokens(100))!.cachedTokens).toBe(0);
  });

  it('flushes for a session only the idle blocks that session alone touched', () => {
    const cache = new PrefixCache(16_000, BLOCK);
    const shared = tokens(160, 9); // 10 blocks both sessions use
    const ownA = new Uint32Array([...shared, ...tokens(96, 10)]); // + 6 blocks of A's own
    const ownB = new Uint32Array([...shared, ...tokens(64, 11)]); // + 4 blocks of B's own
    cache.release(run(cache, ownA, { session: 'A' })!);
    cache.release(run(cache, ownB, { session: 'B' })!);
    const stillRunning = run(cache, ownA, { session: 'A' })!; // holds A's blocks again
    expect(cache.flushSession('A')).toBe(0);
    cache.release(stillRunning);
    expect(cache.flushSession('A')).toBe(6 * BLOCK);
    expect(cache.stats().residentBlocks).toBe(10 + 4);
    // B keeps the shared prefix and its own blocks (all 14 but the last, which is always recomputed).
    expect(run(cache, ownB, { session: 'B' })!.cachedTokens).toBe(13 * BLOCK);
  });
});
