import { describe, expect, it } from 'vitest';
import { costOf, formatUsd } from '../../routing/cost.js';

const usage = (promptTokens: number, completionTokens: number, cachedTokens = 0) => ({ promptTokens, completionTokens, cachedTokens });

describe('the cost of a completion', () => {
  it('is prompt tokens at the input price plus completion tokens at the output price, per million', () => {
    expect(costOf(usage(1_000_000, 1_000_000), { input_per_mtok: 0.1, output_per_mtok: 0.4 })).toBeCloseTo(0.5, 12);
    expect(costOf(usage(2_000, 500), { input_per_mtok: 3, output_per_mtok: 15 })).toBeCloseTo(0.006 + 0.0075, 12);
  });

  it('bills cached prompt tokens at the cached price and only the rest at the input price', () => {
    // 400 uncached × $1 + 600 cached × $0.25 + 100 completion × $2, per million.
    expect(costOf(usage(1_000, 100, 600), { input_per_mtok: 1, cached_input_per_mtok: 0.25, output_per_mtok: 2 })).toBeCloseTo(750e-6, 15);
  });

  it('bills cached tokens as input when the backend declares no cached price', () => {
    expect(costOf(usage(1_000, 0, 600), { input_per_mtok: 1, output_per_mtok: 2 })).toBeCloseTo(1_000e-6, 15);
  });

  it('never counts more cached tokens than prompt tokens', () => {
    expect(costOf(usage(100, 0, 500), { input_per_mtok: 1, cached_input_per_mtok: 0, output_per_mtok: 0 })).toBe(0);
  });

  it('is zero for a backend without a price', () => {
    expect(costOf(usage(1_000, 1_000, 10), undefined)).toBe(0);
  });

  it('is written in fixed point for X-Orla-Cost-Usd', () => {
    expect(formatUsd(750e-9)).toBe('0.000000750');
    expect(formatUsd(0)).toBe('0.000000000');
    expect(formatUsd(1.5)).toBe('1.500000000');
  });
});
