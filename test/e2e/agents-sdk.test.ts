import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../config/defaults.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';
import { runWeatherAgent } from '../simulator/agents-sdk.js';

// The OpenAI Agents SDK, as a new user runs it against `npm start`: the embedded default (two
// in-process simulated engines), its default Responses model and its chat-completions model, a
// tool-using agent run to completion, streamed and not. The run waits on its tool while the tool runs.

let gateway: RunningGateway;
beforeAll(async () => {
  const config = defaultConfig({ port: 0 });
  config.server.log_level = 'silent';
  for (const backend of Object.values(config.backends)) backend.speed = 50; // the same engines, fifty times faster
  gateway = await startGateway(config, { log: pino({ level: 'silent' }) });
});
afterAll(() => gateway.close());

const statusOf = async (run: string) => ((await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()) as { status: string }).status;

describe.each([
  ['responses', false],
  ['responses', true],
  ['chat_completions', false],
  ['chat_completions', true],
] as const)('the Agents SDK (%s model, streamed: %s) through the gateway', (api, stream) => {
  it('runs a tool-using agent to completion, and its run waits on the tool while it runs', async () => {
    const run = `agent-${api}-${stream}`;
    const seen: string[] = [];
    const result = await runWeatherAgent(`${gateway.url}/v1`, {
      api,
      stream,
      model: 'orla:reply',
      defaultHeaders: { 'x-orla-workflow-run': run },
      whileToolRuns: async () => void seen.push(await statusOf(run)),
    });
    expect(result.toolCalls).toEqual([{ city: 'Oslo' }]);
    expect(result.finalOutput).toBe('Sunny in Oslo.');
    expect(seen).toEqual(['waiting_on_tool']);
    const record = (await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()) as { calls: number; backends: string[]; tokens: { prompt: number } };
    expect(record).toMatchObject({ calls: 2, backends: ['heavy'] });
    expect(record.tokens.prompt).toBeGreaterThan(0); // usage read from both API shapes, streamed or not
  });
});
