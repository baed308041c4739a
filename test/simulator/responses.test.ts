import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_HEADER, startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { LONG_SYSTEM, post, postJson, withSimulator } from './helpers.js';

let sim: RunningSimulator;
let client: OpenAI;
beforeAll(async () => {
  sim = await startSimulator({ profile: 'instant' });
  client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => sim.close());

const model = 'sim-instant';
const tools: OpenAI.Responses.FunctionTool[] = [
  { type: 'function', name: 'lookup_order', description: 'Find an order.', parameters: { type: 'object', properties: { order_id: { type: 'integer' } }, required: ['order_id'] }, strict: true },
];

/** The `event:` names and `data:` payloads of a Responses SSE body. */
function events(text: string): { event: string; data: any }[] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
    });
}

describe('POST /v1/responses with the openai client', () => {
  it('answers text in a message item, with usage', async () => {
    const response = await client.responses.create({ model, instructions: 'Be brief.', input: 'Greet me. [[sim:answer Hello, Ada.]]' });
    expect(response).toMatchObject({ object: 'response', status: 'completed', model, error: null, incomplete_details: null, instructions: 'Be brief.' });
    expect(response.id).toMatch(/^resp_/);
    expect(response.output_text).toBe('Hello, Ada.');
    expect(response.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello, Ada.', annotations: [], logprobs: [] }] },
    ]);
    expect(response.usage).toEqual({
      input_tokens: expect.any(Number),
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: expect.any(Number),
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: response.usage!.input_tokens + response.usage!.output_tokens,
    });
  });

  it('makes a function call when the conversation ends in a user message, and answers text after its output', async () => {
    const first = await client.responses.create({ model, input: [{ role: 'user', content: 'Where is order 7?' }], tools, tool_choice: 'required' });
    const call = first.output[0]!;
    expect(call).toMatchObject({ type: 'function_call', status: 'completed', name: 'lookup_order' });
    if (call.type !== 'function_call') throw new Error('not a function call');
    expect(call.id).toMatch(/^fc_/);
    expect(call.call_id).toMatch(/^call_/);
    expect(Number.isInteger(JSON.parse(call.arguments).order_id)).toBe(true);

    const second = await client.responses.create({
      model,
      tools,
      input: [{ role: 'user', content: 'Where is order 7?' }, call, { type: 'function_call_output', call_id: call.call_id, output: 'shipped' }],
    });
    expect(second.output[0]!.type).toBe('message');
    expect(second.output_text.length).toBeGreaterThan(0);
    // The second turn renders the first turn's prompt and call first: a cached prefix.
    expect(second.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(0);
  });

  it('reports a repeated long prefix as cached tokens', async () => {
    const ask = (question: string) => client.responses.create({ model, instructions: LONG_SYSTEM, input: `${question} [[sim:answer ok]]` });
    await ask('first');
    const again = await ask('second, another question');
    expect(again.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(500);
    expect(again.usage!.input_tokens_details.cached_tokens % 16).toBe(0);
  });

  it('streams text as OpenAI does: created, in_progress, item and part, a delta per token, done events, completed', async () => {
    const stream = await client.responses.create({ model, input: 'Count. [[sim:answer one two three]]', stream: true });
    const seen: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) seen.push(event);
    expect(seen.map((e) => e.sequence_number)).toEqual(seen.map((_, i) => i));
    const types = seen.map((e) => e.type);
    const deltas = seen.filter((e) => e.type === 'response.output_text.delta');
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...deltas.map(() => 'response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(deltas.map((d) => (d as OpenAI.Responses.ResponseTextDeltaEvent).delta).join('')).toBe('one two three');
    const completed = seen.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.output_text ?? completed.response.output).toBeTruthy();
    expect(completed.response.usage!.output_tokens).toBe(deltas.length + 1); // + the end-of-sequence token
  });

  it('streams function calls: item added, argument deltas, arguments done, item done', async () => {
    const final = await client.responses
      .stream({ model, input: 'Where are orders 7 and 8? [[sim:tool lookup_order {"order_id":7}]] [[sim:tool lookup_order {"order_id":8}]]', tools })
      .finalResponse();
    expect(final.output.map((item) => (item.type === 'function_call' ? JSON.parse(item.arguments) : item))).toEqual([{ order_id: 7 }, { order_id: 8 }]);

    const res = await post(sim, '/v1/responses', { model, input: 'Where are 7 and 8? [[sim:tool lookup_order {"order_id":7}]] [[sim:tool lookup_order {"order_id":8}]]', tools, stream: true });
    const seen = events(await res.text());
    const types = seen.map((e) => e.event);
    expect(types.filter((t) => !t.endsWith('.delta'))).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(seen.filter((e) => e.event === 'response.function_call_arguments.done').map((e) => [e.data.output_index, e.data.arguments])).toEqual([
      [0, '{"order_id":7}'],
      [1, '{"order_id":8}'],
    ]);
    expect(types).toContain('response.function_call_arguments.delta');
  });

  it('reports a max_output_tokens cut as incomplete', async () => {
    const response = await client.responses.create({ model, input: 'Talk. [[sim:answer a b c d e f g h i j]]', max_output_tokens: 3 });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.usage!.output_tokens).toBe(3);
  });

  it('answers a json_schema text format with JSON of that schema', async () => {
    const response = await client.responses.create({
      model,
      input: 'Classify: my parcel is late.',
      text: { format: { type: 'json_schema', name: 'ticket', strict: true, schema: { type: 'object', properties: { category: { type: 'string', enum: ['billing', 'shipping'] } }, required: ['category'], additionalProperties: false } } },
    });
    expect(['billing', 'shipping']).toContain(JSON.parse(response.output_text).category);
  });

  it('refuses bad input with a 400 naming the field, and an unknown model with a 404', async () => {
    for (const [body, param] of [
      [{ model, input: 42 }, 'input'],
      [{ model, input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
      [{ model, input: 'x', max_output_tokens: 0 }, 'max_output_tokens'],
      [{ model, input: 'x', tools: [{ type: 'web_search' }] }, 'tools'],
      [{ model, input: [{ type: 'function_call', name: 'f' }] }, 'input'],
      [{ model, input: 'x', text: { format: { type: 'xml' } } }, 'text.format'],
    ] as const) {
      const { status, json } = await postJson(sim, '/v1/responses', body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(json.error).toMatchObject({ type: 'BadRequestError', param, code: 400 });
    }
    await expect(client.responses.create({ model: 'gpt-4o', input: 'x' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("ends a stream with OpenAI's error event, in sequence, on the error-after fault", () =>
    withSimulator({ profile: 'instant', faults: true }, async (faulty) => {
      const res = await post(faulty, '/v1/responses', { input: '[[sim:answer one two three four]]', stream: true }, { [FAULT_HEADER]: 'error-after=2' });
      expect(res.status).toBe(200);
      const seen = events(await res.text());
      expect(seen.filter((e) => e.event === 'response.output_text.delta')).toHaveLength(2);
      expect(seen.at(-1)).toEqual({ event: 'error', data: { type: 'error', sequence_number: seen.length - 1, code: 'server_error', message: 'simulated engine failure', param: null } });
    }));
});
