import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../simulator/index.js';
import { startSimulator } from '../../simulator/index.js';
import { post, postJson, sseData, userTurn } from './helpers.js';
import { within } from '../helpers/wait.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ profile: 'instant' });
});
afterAll(() => sim.close());

const ANSWER = 'Your refund is on its way.';
const scripted = [userTurn(`Where is my refund? [[sim:answer ${ANSWER}]]`)];
const weatherTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

async function stream(path: string, body: Record<string, unknown>) {
  const res = await post(sim, path, { ...body, stream: true });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const text = await res.text();
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  return sseData(text);
}

describe('chat completions wire format', () => {
  it('answers a non-streaming request with every field vLLM sends', async () => {
    const { status, json } = await postJson(sim, '/v1/chat/completions', { model: 'sim-instant', messages: scripted });
    expect(status).toBe(200);
    expect(json.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(json.object).toBe('chat.completion');
    expect(Number.isInteger(json.created)).toBe(true);
    expect(json.model).toBe('sim-instant');
    expect(json.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: ANSWER, refusal: null, annotations: null, audio: null, function_call: null, tool_calls: [], reasoning_content: null },
        logprobs: null,
        finish_reason: 'stop',
        stop_reason: null,
      },
    ]);
    const { usage } = json;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(1);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(usage.prompt_tokens_details).toEqual({ cached_tokens: expect.any(Number) });
  });

  it('streams a role chunk, one chunk per token, a finish chunk, the usage chunk and [DONE]', async () => {
    const events = await stream('/v1/chat/completions', { messages: scripted, stream_options: { include_usage: true } });
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    for (const chunk of chunks) {
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe('sim-instant');
    }
    const [role, ...rest] = chunks;
    expect(role.choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    const usageChunk = rest.pop();
    const finish = rest.pop();
    expect(finish.choices).toEqual([{ index: 0, delta: { content: '' }, logprobs: null, finish_reason: 'stop', stop_reason: null }]);
    expect(rest.map((c) => c.choices[0].delta.content).join('')).toBe(ANSWER);
    // vLLM serializes chunks with exclude_unset: no usage key at all before the final chunk.
    for (const chunk of [role, ...rest, finish]) expect(chunk).not.toHaveProperty('usage');
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.completion_tokens).toBe(rest.length + 1); // content tokens + <|im_end|>
    expect(usageChunk.usage.total_tokens).toBe(usageChunk.usage.prompt_tokens + usageChunk.usage.completion_tokens);
  });

  it('sends no usage chunk unless stream_options.include_usage is true', async () => {
    const events = await stream('/v1/chat/completions', { messages: scripted });
    expect(events.slice(0, -1).every((c) => c.choices.length === 1)).toBe(true);
  });

  it('stops at max_tokens with finish reason length, streaming or not', async () => {
    const { json } = await postJson(sim, '/v1/chat/completions', { messages: scripted, max_tokens: 3 });
    expect(json.choices[0].finish_reason).toBe('length');
    expect(json.usage.completion_tokens).toBe(3);
    const events = await stream('/v1/chat/completions', { messages: scripted, max_completion_tokens: 2 });
    expect(events.at(-2).choices[0]).toMatchObject({ finish_reason: 'length', stop_reason: null });
    expect(events.at(-2).choices[0].delta.content).not.toBe('');
  });

  it('generates exactly max_tokens with ignore_eos, and at least min_tokens', async () => {
    const exact = await postJson(sim, '/v1/chat/completions', { messages: scripted, max_tokens: 200, ignore_eos: true });
    expect(exact.json.usage.completion_tokens).toBe(200);
    expect(exact.json.choices[0].finish_reason).toBe('length');
    const atLeast = await postJson(sim, '/v1/chat/completions', { messages: scripted, min_tokens: 40 });
    expect(atLeast.json.usage.completion_tokens).toBe(41);
    expect(atLeast.json.choices[0].finish_reason).toBe('stop');
  });

  it('returns tool calls with finish reason tool_calls and no content', async () => {
    const { json } = await postJson(sim, '/v1/chat/completions', { messages: [userTurn('Weather in Oslo?')], tools: [weatherTool], tool_choice: 'required' });
    const choice = json.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls.length).toBeGreaterThan(0);
    for (const call of choice.message.tool_calls) {
      expect(call).toEqual({ id: expect.stringMatching(/^chatcmpl-tool-/), type: 'function', function: { name: 'get_weather', arguments: expect.any(String) } });
      expect(typeof JSON.parse(call.function.arguments).city).toBe('string');
    }
  });

  it('streams a tool call as vLLM does: a header delta with id, type and name, then argument fragments', async () => {
    const events = await stream('/v1/chat/completions', { messages: [userTurn('[[sim:tool get_weather {"city": "Oslo"}]]')], tools: [weatherTool] });
    const chunks = events.slice(1, -1);
    const deltas = chunks.map((c) => c.choices[0].delta.tool_calls?.[0]);
    expect(deltas[0]).toEqual({ index: 0, id: expect.stringMatching(/^chatcmpl-tool-/), type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(deltas.slice(1).every((d) => d && Object.keys(d).sort().join() === 'function,index')).toBe(true);
    expect(deltas.map((d) => d.function.arguments).join('')).toBe('{"city": "Oslo"}');
    expect(chunks.at(-1).choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
  });

  it('reports finish reason stop for a tool call forced by name, as vLLM does', async () => {
    const { json } = await postJson(sim, '/v1/chat/completions', {
      messages: [userTurn('Weather?')],
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    expect(json.choices[0].finish_reason).toBe('stop');
    expect(json.choices[0].message.tool_calls[0].function.name).toBe('get_weather');
  });

  it('answers json_schema response formats with a JSON document', async () => {
    const schema = { type: 'object', properties: { label: { type: 'string', enum: ['billing', 'shipping'] }, urgent: { type: 'boolean' } }, required: ['label', 'urgent'] };
    const { json } = await postJson(sim, '/v1/chat/completions', {
      messages: [userTurn('Classify: my parcel is late')],
      response_format: { type: 'json_schema', json_schema: { name: 'ticket', schema } },
    });
    const doc = JSON.parse(json.choices[0].message.content);
    expect(['billing', 'shipping']).toContain(doc.label);
    expect(typeof doc.urgent).toBe('boolean');
  });

  it('takes its id from X-Request-Id when the client sends one', async () => {
    const res = await post(sim, '/v1/chat/completions', { messages: scripted }, { 'x-request-id': 'trace-123' });
    expect((await res.json()).id).toBe('chatcmpl-trace-123');
  });
});

describe('completions wire format', () => {
  it('answers a non-streaming completion with every field vLLM sends', async () => {
    const { status, json } = await postJson(sim, '/v1/completions', { model: 'sim-instant', prompt: 'Say [[sim:answer hello world]]' });
    expect(status).toBe(200);
    expect(json.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(json.object).toBe('text_completion');
    expect(json.choices).toEqual([{ index: 0, text: 'hello world', logprobs: null, finish_reason: 'stop', stop_reason: null, prompt_logprobs: null }]);
    expect(json.usage).toEqual({ prompt_tokens: expect.any(Number), completion_tokens: 3, total_tokens: json.usage.prompt_tokens + 3, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('streams text chunks, a finish on the last token, the usage chunk and [DONE]', async () => {
    const events = await stream('/v1/completions', { prompt: 'Say [[sim:answer hello world]]', max_tokens: 2, stream_options: { include_usage: true } });
    const [first, second, usage] = events;
    expect(first).toMatchObject({ object: 'text_completion', choices: [{ index: 0, text: 'hello', logprobs: null, finish_reason: null, stop_reason: null }] });
    expect(second.choices[0]).toEqual({ index: 0, text: ' world', logprobs: null, finish_reason: 'length', stop_reason: null });
    expect(first).not.toHaveProperty('usage');
    expect(usage).toMatchObject({ object: 'text_completion', choices: [], usage: { completion_tokens: 2 } });
    expect(events).toHaveLength(4);
  });

  it('accepts a prompt given as token ids', async () => {
    const { json } = await postJson(sim, '/v1/completions', { prompt: [1, 2, 3, 4, 5], max_tokens: 4 });
    expect(json.usage.prompt_tokens).toBe(5);
  });
});

describe('other routes', () => {
  it('lists the served models like vLLM', async () => {
    const json = await (await fetch(`${sim.url}/v1/models`)).json();
    expect(json.object).toBe('list');
    expect(json.data).toEqual([expect.objectContaining({ id: 'sim-instant', object: 'model', owned_by: 'vllm', root: 'sim-instant', max_model_len: 40_960 })]);
  });

  it('answers /health with an empty 200', async () => {
    const res = await fetch(`${sim.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('answers an unknown route with FastAPI\'s 404', async () => {
    const res = await fetch(`${sim.url}/v2/nothing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: 'Not Found' });
  });

  it('serves the names it was given instead of the profile\'s', async () => {
    const named = await startSimulator({ profile: 'instant', models: ['Qwen/Qwen3-8B', 'alias'] });
    try {
      expect((await postJson(named, '/v1/chat/completions', { model: 'alias', messages: scripted })).status).toBe(200);
      expect((await postJson(named, '/v1/chat/completions', { messages: scripted })).json.model).toBe('Qwen/Qwen3-8B');
      expect((await postJson(named, '/v1/chat/completions', { model: 'sim-instant', messages: scripted })).status).toBe(404);
    } finally {
      await named.close();
    }
  });
});

// A schema can ask for far more than max_tokens lets out. The generator used to build all of it,
// synchronously: minLength 1e9 never finished and froze the process (and a gateway running the
// simulator in-process). This suite talks to an `orla sim` child process so that a regression fails
// on the request deadline instead of hanging the test runner.
describe('json_schema output larger than max_tokens', () => {
  const ROOT = fileURLToPath(new URL('../..', import.meta.url));
  let child: ChildProcess;
  let url: string;
  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'sim', '--port', '0', '--profile', 'instant'], { cwd: ROOT });
    const line = await within(
      new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]!);
        });
        child.once('exit', (code) => reject(new Error(`orla sim exited ${code}: ${out}`)));
      }),
      'orla sim to print its URL',
      15_000,
    );
    url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1]!;
  }, 20_000);
  afterAll(() => void child?.kill('SIGKILL'));

  async function ask(body: Record<string, unknown>): Promise<any> {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [userTurn('Write it out')], max_tokens: 40, ...body }),
      signal: AbortSignal.timeout(4000),
    });
    expect(res.status).toBe(200);
    return res.json();
  }
  const schemaFormat = (schema: unknown) => ({ response_format: { type: 'json_schema', json_schema: { name: 'big', schema } } });

  const huge: Record<string, unknown> = {
    'a string with minLength 1e9': { type: 'string', minLength: 1e9 },
    'nested arrays with minItems 1e9': { type: 'array', minItems: 1e9, items: { type: 'array', minItems: 1e9, items: { type: 'array', minItems: 1e9, items: { type: 'integer' } } } },
    'objects with minProperties 1e9': { type: 'object', minProperties: 1e9, additionalProperties: { type: 'object', minProperties: 1e9, additionalProperties: { type: 'string', minLength: 1e6 } } },
    'a branching recursive object': { type: 'object', properties: { left: { $ref: '#' }, right: { $ref: '#' } }, required: ['left', 'right'] },
  };
  for (const [name, schema] of Object.entries(huge)) {
    it(`answers ${name} at once, cut at max_tokens`, async () => {
      const json = await ask(schemaFormat(schema));
      expect(json.choices[0].finish_reason).toBe('length');
      expect(json.usage.completion_tokens).toBe(40);
      expect(json.choices[0].message.content).toMatch(/^["[{]/);
    }, 5000);
  }

  it('cuts tool-call arguments the same way', async () => {
    const tool = { type: 'function', function: { name: 'write', parameters: { type: 'object', properties: { text: { type: 'string', minLength: 1e9 } }, required: ['text'] } } };
    const json = await ask({ tools: [tool], tool_choice: 'required' });
    expect(json.choices[0].finish_reason).toBe('length');
    expect(json.usage.completion_tokens).toBeLessThanOrEqual(40);
  }, 5000);

  it('without max_tokens, stops at the context length', async () => {
    const json = await ask({ max_tokens: undefined, ...schemaFormat({ type: 'string', minLength: 1e9 }) });
    expect(json.choices[0].finish_reason).toBe('length');
    expect(json.usage.prompt_tokens + json.usage.completion_tokens).toBe(40_960);
  }, 5000);
});
