import { describe, expect, it } from 'vitest';
import { startSimulator } from '../../simulator/index.js';

describe('choosing a personality', () => {
  it('refuses an option that belongs to another engine, and an unknown personality', async () => {
    await expect(startSimulator({ profile: 'instant', personality: 'vllm', parallel: 2 })).rejects.toThrow('parallel is a llamacpp option; this simulator imitates vllm');
    await expect(startSimulator({ profile: 'instant', apiKey: 'k' })).rejects.toThrow('apiKey is a sglang option; this simulator imitates simulator');
    await expect(startSimulator({ profile: 'instant', personality: 'tgi' as never })).rejects.toThrow('unknown engine personality "tgi"');
    await expect(startSimulator({ profile: 'instant', personality: 'llamacpp', parallel: 0 })).rejects.toThrow('parallel must be a positive integer');
  });
});
