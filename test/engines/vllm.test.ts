import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startTestGateway } from '../helpers/gateway.js';

// Orla in front of an engine that answers as vLLM (the simulator's vllm personality).

describe('an error event inside a 200 stream (vLLM writes `data: {"error": …}`, then [DONE])', () => {
  let sim: RunningSimulator;
  let gateway: RunningGateway;
  beforeAll(async () => {
    sim = await startSimulator({ personality: 'vllm', profile: 'instant', models: ['m'], faults: true });
    gateway = await startTestGateway({
      backends: { v: { engine: 'vllm', urls: [sim.url], circuit: { failures: 2, open_ms: 600_000 }, retries: { attempts: 0 } } },
      stages: { default: { backend: 'v', model: 'm' } },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await sim.close();
  });

  it('reaches the client as the engine wrote it, and opens the circuit after the configured failures', async () => {
    const streamed = () =>
      fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sim-fault': 'error-after=2' },
        body: JSON.stringify({ stream: true, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
      });
    for (let i = 0; i < 2; i++) {
      const res = await streamed();
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/data: \{"error": ?\{/); // the engine's own event, unchanged
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    }
    const refused = await streamed();
    expect(refused.status).toBe(503);
    expect((await refused.json()).error.type).toBe('service_unavailable_error');
  });
});

describe('usage without prompt_tokens_details (vLLM started without --enable-prompt-tokens-details)', () => {
  let sim: RunningSimulator;
  let gateway: RunningGateway;
  beforeAll(async () => {
    sim = await startSimulator({ personality: 'vllm', profile: 'instant', models: ['m'] });
    gateway = await startTestGateway({
      backends: { v: { engine: 'vllm', urls: [sim.url], price: { input_per_mtok: 1, cached_input_per_mtok: 0.1, output_per_mtok: 2 } } },
      stages: { default: { backend: 'v', model: 'm' } },
    });
  });
  afterAll(async () => {
    await gateway.close();
    await sim.close();
  });

  it('keeps the run record consistent: cached tokens 0, every prompt token priced as input, streamed or not', async () => {
    const context = 'You summarise tickets. '.repeat(40);
    const call = async (stream: boolean, turn: number) => {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-orla-workflow-run': 'plain' },
        body: JSON.stringify({ stream, max_tokens: 4, messages: [{ role: 'system', content: context }, { role: 'user', content: `turn ${turn}` }] }),
      });
      const text = await res.text();
      expect(text).not.toContain('prompt_tokens_details":{'); // the engine reports none
      return text;
    };
    await call(false, 1);
    await call(true, 2); // a repeated prefix: the engine served it from cache, but does not say so
    const run = (await (await fetch(`${gateway.url}/v1/workflows/plain`)).json()) as { calls: number; tokens: { prompt: number; cached: number; completion: number }; cost_usd: number };
    expect(run.calls).toBe(2);
    expect(run.tokens.cached).toBe(0);
    expect(run.tokens.prompt).toBeGreaterThan(0);
    expect(run.cost_usd).toBeCloseTo((run.tokens.prompt * 1 + run.tokens.completion * 2) / 1e6, 12);
  });
});
