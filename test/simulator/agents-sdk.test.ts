import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type PersonalityName, type RunningSimulator } from '../../simulator/index.js';
import { withSimulator } from './helpers.js';
import { runWeatherAgent, type AgentsApi } from './agents-sdk.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ profile: 'instant' });
});
afterAll(() => sim.close());

const cases: [AgentsApi, boolean][] = [
  ['responses', false],
  ['responses', true],
  ['chat_completions', false],
  ['chat_completions', true],
];

describe('the OpenAI Agents SDK against the simulator', () => {
  it.each(cases)('runs a tool-using agent to completion over %s (streamed: %s)', async (api, stream) => {
    const run = await runWeatherAgent(`${sim.url}/v1`, { api, stream, model: 'sim-instant' });
    expect(run.toolCalls).toEqual([{ city: 'Oslo' }]);
    expect(run.finalOutput).toBe('Sunny in Oslo.');
    // Two model calls: the tool call, then the answer after the tool result.
    expect(run.responses).toHaveLength(2);
    for (const response of run.responses) expect(response.usage.inputTokens).toBeGreaterThan(0);
    // The second call resends the first call's prompt: its prefix comes from the cache.
    expect(run.responses[1]!.usage.inputTokensDetails[0]?.cached_tokens ?? 0).toBeGreaterThan(0);
    if (stream && api === 'responses') expect(run.streamEvents).toContain('response_done');
  });

  it('runs an agent whose model answers without a tool call', async () => {
    const run = await runWeatherAgent(`${sim.url}/v1`, { api: 'responses', stream: false, model: 'sim-instant', input: 'Say hi. [[sim:answer Hi there.]]' });
    expect(run.finalOutput).toBe('Hi there.');
    expect(run.toolCalls).toEqual([]);
  });

  it.each(['vllm', 'sglang', 'llamacpp'] as PersonalityName[])('runs the agent against the %s personality, streamed over the Responses API', (personality) =>
    withSimulator({ profile: 'instant', personality }, async (engine) => {
      const run = await runWeatherAgent(`${engine.url}/v1`, { api: 'responses', stream: true, model: 'sim-instant' });
      expect(run.toolCalls).toEqual([{ city: 'Oslo' }]);
      expect(run.finalOutput).toBe('Sunny in Oslo.');
    }));
});
