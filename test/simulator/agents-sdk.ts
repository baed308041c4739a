// Runs a tool-using OpenAI Agents SDK agent to completion against an OpenAI-compatible base URL
// (a simulator's, or a gateway in front of one): reusable by any suite that needs "a real agent
// framework works through this endpoint". Tracing export is disabled, so nothing calls out.
import { Agent, OpenAIProvider, Runner, setTracingDisabled, tool, type ModelResponse } from '@openai/agents';
import OpenAI from 'openai';
import { z } from 'zod';

setTracingDisabled(true);

export type AgentsApi = 'responses' | 'chat_completions';

export interface WeatherAgentRun {
  finalOutput: string | undefined;
  /** The arguments each get_weather call executed with, in order. */
  toolCalls: { city: string }[];
  /** One entry per model call the run made. */
  responses: ModelResponse[];
  /** Raw stream event types seen (streamed runs only). */
  streamEvents: string[];
}

export interface WeatherAgentOptions {
  /** 'responses' is the SDK's default model (OpenAIResponsesModel); 'chat_completions' its OpenAIChatCompletionsModel. */
  api: AgentsApi;
  stream: boolean;
  model: string;
  /** The user's message; the default scripts the simulated model through one tool call and an answer. */
  input?: string;
  instructions?: string;
  apiKey?: string;
  defaultHeaders?: Record<string, string>;
  /** Runs inside the tool, while the agent waits on it. */
  whileToolRuns?: () => Promise<void>;
}

/** The simulator's test markers script one whole agent turn: a call, then (after the tool result) the answer. */
export const WEATHER_INPUT = 'What is the weather in Oslo? [[sim:tool get_weather {"city":"Oslo"}]] [[sim:answer Sunny in Oslo.]]';

export async function runWeatherAgent(baseURL: string, options: WeatherAgentOptions): Promise<WeatherAgentRun> {
  const toolCalls: { city: string }[] = [];
  const getWeather = tool({
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      toolCalls.push({ city });
      await options.whileToolRuns?.();
      return `Sunny, 21 C in ${city}.`;
    },
  });
  const client = new OpenAI({ baseURL, apiKey: options.apiKey ?? 'unused', maxRetries: 0, defaultHeaders: options.defaultHeaders });
  const runner = new Runner({ modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: options.api === 'responses' }), tracingDisabled: true });
  const agent = new Agent({
    name: 'Weather assistant',
    instructions: options.instructions ?? 'You answer weather questions. Use get_weather.',
    tools: [getWeather],
    model: options.model,
  });
  const input = options.input ?? WEATHER_INPUT;
  const streamEvents: string[] = [];
  if (options.stream) {
    const result = await runner.run(agent, input, { stream: true });
    for await (const event of result) if (event.type === 'raw_model_stream_event') streamEvents.push(event.data.type);
    await result.completed;
    return { finalOutput: result.finalOutput as string | undefined, toolCalls, responses: result.rawResponses, streamEvents };
  }
  const result = await runner.run(agent, input);
  return { finalOutput: result.finalOutput as string | undefined, toolCalls, responses: result.rawResponses, streamEvents };
}
