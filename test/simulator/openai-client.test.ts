import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';

let sim: RunningSimulator;
let client: OpenAI;
beforeAll(async () => {
  sim = await startSimulator({ profile: 'instant' });
  client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => sim.close());

const model = 'sim-instant';
const tools: OpenAI.Chat.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'lookup_order',
      parameters: { type: 'object', properties: { order_id: { type: 'integer' }, reason: { type: 'string' } }, required: ['order_id'] },
    },
  },
];

describe('the openai npm client against the simulator', () => {
  it('reads a chat completion', async () => {
    const completion = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi [[sim:answer Hello from the simulator.]]' }] });
    expect(completion.choices[0]!.message.content).toBe('Hello from the simulator.');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
  });

  it('streams a chat completion with usage', async () => {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'Tell me something.' }],
      max_tokens: 30,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(finish);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    expect(usage!.completion_tokens).toBeLessThanOrEqual(30);
  });

  it('parses a json_schema answer into the schema\'s type', async () => {
    const Ticket = z.object({ category: z.enum(['billing', 'shipping', 'other']), priority: z.number().int(), summary: z.string() });
    const completion = await client.chat.completions.parse({
      model,
      messages: [{ role: 'user', content: 'My parcel never arrived.' }],
      response_format: zodResponseFormat(Ticket, 'ticket'),
    });
    const ticket = completion.choices[0]!.message.parsed;
    expect(Ticket.parse(ticket)).toEqual(ticket);
  });

  it('receives tool calls, streaming and not', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Where is order 7?' }];
    const completion = await client.chat.completions.create({ model, messages, tools, tool_choice: 'required' });
    const call = completion.choices[0]!.message.tool_calls![0]!;
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type).toBe('function');
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('lookup_order');
    expect(Number.isInteger(JSON.parse(call.function.arguments).order_id)).toBe(true);

    // The SDK's stream helper assembles the deltas: the same calls must come out of it.
    const streamed = await client.chat.completions.stream({ model, messages, tools, tool_choice: 'required' }).finalChatCompletion();
    expect(streamed.choices[0]!.finish_reason).toBe('tool_calls');
    expect(streamed.choices[0]!.message.tool_calls).toEqual(completion.choices[0]!.message.tool_calls);
  });

  it('runs a tool loop whose second turn reuses the first turn\'s cache', async () => {
    const system = { role: 'system' as const, content: 'You are a careful support agent. '.repeat(40) };
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [system, { role: 'user', content: 'Where is order 7?' }];
    const first = await client.chat.completions.create({ model, messages, tools });
    const assistant = first.choices[0]!.message;
    messages.push(assistant);
    for (const call of assistant.tool_calls ?? []) messages.push({ role: 'tool', tool_call_id: call.id, content: 'shipped' });
    const second = await client.chat.completions.create({ model, messages, tools });
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(first.usage!.prompt_tokens - 16);
  });

  it('reads text completions and the model list', async () => {
    const completion = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5 });
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.usage!.completion_tokens).toBe(5);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([model]);
  });

  it('surfaces a 404 for an unknown model as the SDK\'s NotFoundError', async () => {
    await expect(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
