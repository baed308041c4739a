import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway } from '../helpers/gateway.js';

// Real clients against `orla serve` with two in-process simulated engines.

let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  gateway = await startTestGateway({
    backends: {
      light: { engine: 'simulator', profile: 'instant' },
      heavy: { engine: 'simulator', profile: 'instant' },
    },
    stages: {
      classify: { backend: 'light', model: 'sim-instant', params: { temperature: 0 } },
      default: { backend: 'heavy', model: 'sim-instant' },
    },
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => gateway.close());

const messages = [{ role: 'user' as const, content: 'My card was charged twice for one order.' }];

describe('the openai client', () => {
  it('gets a completion routed by its stage header', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'any', messages, max_tokens: 20 }, { headers: { 'X-Orla-Stage': 'classify', 'X-Orla-Workflow-Run': 'r1' } })
      .withResponse();
    expect(response.headers.get('x-orla-backend')).toBe('light');
    expect(response.headers.get('x-orla-workflow-run')).toBe('r1');
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('sim-instant');
    expect(data.choices[0]!.message.content).toBeTruthy();
    expect(data.usage!.completion_tokens).toBeLessThanOrEqual(20);
  });

  it('streams, and gets no usage chunk it did not ask for', async () => {
    const stream = await client.chat.completions.create({ model: 'orla:classify', messages, stream: true, max_tokens: 30 });
    let text = '';
    let finish: string | null | undefined;
    let usageSeen = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usageSeen = true;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toMatch(/stop|length/);
    expect(usageSeen).toBe(false);
  });

  it('gets usage on a stream when it asks', async () => {
    const stream = await client.chat.completions.create({ model: 'x', messages, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it('gets tool calls whose arguments fit the tool\'s schema', async () => {
    const completion = await client.chat.completions.create({
      model: 'x',
      messages,
      tools: [
        {
          type: 'function',
          function: {
            name: 'send_ticket',
            parameters: {
              type: 'object',
              properties: { team: { type: 'string', enum: ['billing', 'technical'] }, priority: { type: 'integer', minimum: 1, maximum: 5 } },
              required: ['team', 'priority'],
            },
          },
        },
      ],
      tool_choice: 'required',
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe('function');
    const args = JSON.parse((call as { function: { arguments: string } }).function.arguments);
    expect(['billing', 'technical']).toContain(args.team);
    expect(Number.isInteger(args.priority)).toBe(true);
  });

  it('gets JSON that fits a json_schema response format', async () => {
    const completion = await client.chat.completions.create({
      model: 'orla:classify',
      messages,
      max_tokens: 500,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'ticket',
          strict: true,
          schema: {
            type: 'object',
            properties: { category: { type: 'string', enum: ['billing', 'account'] }, needs_escalation: { type: 'boolean' } },
            required: ['category', 'needs_escalation'],
            additionalProperties: false,
          },
        },
      },
    });
    const parsed = JSON.parse(completion.choices[0]!.message.content!);
    expect(['billing', 'account']).toContain(parsed.category);
    expect(typeof parsed.needs_escalation).toBe('boolean');
  });

  it('gets a 404 for a stage model that does not exist', async () => {
    await expect(client.chat.completions.create({ model: 'orla:nope', messages })).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });
});

describe('other frameworks', () => {
  it('LangChain.js streams through the gateway', async () => {
    const model = new ChatOpenAI({
      model: 'orla:classify',
      apiKey: 'unused',
      maxRetries: 0,
      configuration: { baseURL: `${gateway.url}/v1`, defaultHeaders: { 'X-Orla-Workflow-Run': 'lc-1' } },
    });
    let text = '';
    for await (const chunk of await model.stream('My card was charged twice.')) text += chunk.content;
    expect(text.length).toBeGreaterThan(0);
  });

  it('the Vercel AI SDK streams through the gateway with its headers', async () => {
    const openai = createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', headers: { 'X-Orla-Stage': 'classify' } });
    const result = streamText({ model: openai.chat('any'), prompt: 'My card was charged twice.', maxRetries: 0 });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text.length).toBeGreaterThan(0);
    expect((await result.response).headers?.['x-orla-backend']).toBe('light');
  });
});
