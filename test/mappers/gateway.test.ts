import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { costOf } from '../../routing/cost.js';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { startTestGateway } from '../helpers/gateway.js';
import { verdictSays } from './helpers.js';

// Stage mapping seen from a client of the gateway.

const LIGHT_PRICE = { input_per_mtok: 1, output_per_mtok: 2 };
const HEAVY_PRICE = { input_per_mtok: 3, cached_input_per_mtok: 1, output_per_mtok: 6 };

let light: RunningSimulator;
let heavy: RunningSimulator;
let gateway: RunningGateway;

describe('stage mapping through the gateway', () => {
  beforeAll(async () => {
    light = await startSimulator({ profile: 'instant', faults: true, models: ['light-model'] });
    heavy = await startSimulator({ profile: 'instant', models: ['heavy-model'] });
    gateway = await startTestGateway({
      backends: {
        light: { engine: 'simulator', urls: [light.url], price: LIGHT_PRICE, retries: { attempts: 0 } },
        heavy: { engine: 'simulator', urls: [heavy.url], price: HEAVY_PRICE },
      },
      mappers: {
        route: {
          kind: 'onebit',
          classifier: { backend: 'light', model: 'light-model', timeout_ms: 10_000 },
          simple: { backend: 'light', model: 'light-model' },
          complex: { backend: 'heavy', model: 'heavy-model' },
        },
      },
      stages: { solve: { mapper: 'route' }, default: { backend: 'heavy', model: 'heavy-model' } },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([light?.close(), heavy?.close()]);
  });

  const solve = (content: string, headers: Record<string, string> = {}, extra: object = {}) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orla-stage': 'solve', ...headers },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content }], max_tokens: 8, ...extra }),
    });

  it('says the verdict in X-Orla-Mapped and serves from that side', async () => {
    const simple = await solve(verdictSays('Fix a typo.', '{"prediction": true}'));
    expect(simple.status).toBe(200);
    expect(simple.headers.get('x-orla-mapped')).toBe('simple');
    expect(simple.headers.get('x-orla-backend')).toBe('light');
    expect((await simple.json()).model).toBe('light-model');
    const complex = await solve(verdictSays('Redesign the cache.', '{"prediction": false}'));
    expect(complex.headers.get('x-orla-mapped')).toBe('complex');
    expect(complex.headers.get('x-orla-backend')).toBe('heavy');
  });

  it('an unusable verdict still serves the request, from the fallback side', async () => {
    const res = await solve(verdictSays('Fix it.', 'maybe?'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-orla-mapped')).toBe('fallback');
    expect(res.headers.get('x-orla-backend')).toBe('heavy');
  });

  it('an explicit stage has no X-Orla-Mapped', async () => {
    const res = await solve('hi', { 'x-orla-stage': 'other' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-orla-mapped')).toBeNull();
  });

  it('X-Orla-Cost-Usd is the completion at its backend\'s prices plus the classification', async () => {
    const res = await solve(verdictSays('Rework the parser.', '{"prediction": false}'), { 'x-orla-workflow-run': 'cost-run' });
    const { usage } = await res.json();
    const completion = costOf({ promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, cachedTokens: usage.prompt_tokens_details.cached_tokens }, HEAVY_PRICE);
    const total = Number(res.headers.get('x-orla-cost-usd'));
    expect(total).toBeGreaterThan(completion); // the classifier call on light cost something too
    const run = await (await fetch(`${gateway.url}/v1/workflows/cost-run`)).json();
    expect(run.cost_usd).toBeCloseTo(total, 9);
  });

  it('metrics count cost by backend and stage, verdicts and fallbacks', async () => {
    await solve(verdictSays('Another typo.', '{"prediction": true}'));
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/orla_cost_usd_total\{backend="light",stage="onebit:route"\} [0-9.e-]+/);
    expect(metrics).toMatch(/orla_cost_usd_total\{backend="light",stage="solve"\} [0-9.e-]+/);
    expect(metrics).toMatch(/orla_mapper_decisions_total\{mapper="route",verdict="simple",cached="false"\} \d+/);
    expect(metrics).toMatch(/orla_mapper_fallbacks_total\{mapper="route",reason="invalid"\} 1/);
    expect(metrics).toMatch(/orla_tokens_total\{stage="onebit:route",backend="light",kind="prompt"\} \d+/);
  });

  it('with verify_models, a model no backend serves stops the start', async () => {
    await expect(
      startTestGateway({
        verify_models: true,
        backends: { light: { engine: 'simulator', urls: [light.url] } },
        stages: { default: { backend: 'light', model: 'Qwen/Qwen3-4B' } },
      }),
    ).rejects.toThrow('stages.default.model: backend light does not serve "Qwen/Qwen3-4B" (it serves: light-model)');
  });
});
