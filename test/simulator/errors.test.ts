import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../simulator/index.js';
import { post, postJson, userTurn } from './helpers.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ profile: 'instant' });
});
afterAll(() => sim.close());

const messages = [userTurn('hello')];

async function expectBadRequest(path: string, body: unknown, param: string | null, messageNamesParam = true) {
  const res = await post(sim, path, body);
  expect(res.status).toBe(400);
  const json = await res.json();
  expect(json).toEqual({ error: { message: expect.any(String), type: 'BadRequestError', param, code: 400 } });
  if (param && messageNamesParam) expect(json.error.message).toContain(param);
  return json.error.message as string;
}

describe('bad input', () => {
  it('answers a body that is not JSON with a 400 envelope', async () => {
    await expectBadRequest('/v1/chat/completions', '{"messages": [', null);
    await expectBadRequest('/v1/chat/completions', '[1, 2]', null);
  });

  it('names the field when messages are missing, not an array, or malformed', async () => {
    await expectBadRequest('/v1/chat/completions', {}, 'messages');
    await expectBadRequest('/v1/chat/completions', { messages: 'hello' }, 'messages');
    await expectBadRequest('/v1/chat/completions', { messages: [] }, 'messages');
    await expectBadRequest('/v1/chat/completions', { messages: [{ content: 'no role' }] }, 'messages');
    await expectBadRequest('/v1/chat/completions', { messages: [{ role: 'user', content: 42 }] }, 'messages');
  });

  it('names the field when a sampling parameter has the wrong type or range', async () => {
    await expectBadRequest('/v1/chat/completions', { messages, max_tokens: 'ten' }, 'max_tokens');
    await expectBadRequest('/v1/chat/completions', { messages, max_tokens: 0 }, 'max_tokens');
    await expectBadRequest('/v1/chat/completions', { messages, max_completion_tokens: 1.5 }, 'max_completion_tokens');
    await expectBadRequest('/v1/chat/completions', { messages, temperature: 'hot' }, 'temperature');
    await expectBadRequest('/v1/chat/completions', { messages, temperature: -1 }, 'temperature');
    await expectBadRequest('/v1/chat/completions', { messages, stream: 'yes' }, 'stream');
    await expectBadRequest('/v1/chat/completions', { messages, stream_options: { include_usage: true } }, 'stream_options');
    await expectBadRequest('/v1/chat/completions', { messages, priority: 'high' }, 'priority');
    await expectBadRequest('/v1/chat/completions', { messages, min_tokens: 10, max_tokens: 5 }, 'min_tokens');
    await expectBadRequest('/v1/chat/completions', { messages, n: 2 }, 'n');
  });

  it('names response_format, tools and tool_choice when they are malformed', async () => {
    await expectBadRequest('/v1/chat/completions', { messages, response_format: 'json' }, 'response_format');
    await expectBadRequest('/v1/chat/completions', { messages, response_format: { type: 'xml' } }, 'response_format');
    await expectBadRequest('/v1/chat/completions', { messages, response_format: { type: 'json_schema' } }, 'response_format');
    await expectBadRequest('/v1/chat/completions', { messages, tools: {} }, 'tools');
    await expectBadRequest('/v1/chat/completions', { messages, tools: [{ type: 'function' }] }, 'tools');
    await expectBadRequest('/v1/chat/completions', { messages, tool_choice: 'sometimes' }, 'tool_choice');
  });

  it('rejects a completion without a usable prompt', async () => {
    await expectBadRequest('/v1/completions', {}, 'prompt');
    await expectBadRequest('/v1/completions', { prompt: 12 }, 'prompt');
    await expectBadRequest('/v1/completions', { prompt: ['a', 'b'] }, 'prompt');
  });

  it('refuses a request beyond the context window with vLLM\'s message', async () => {
    const message = await expectBadRequest('/v1/chat/completions', { messages, max_tokens: 40_960 }, 'max_tokens', false);
    expect(message).toMatch(/^This model's maximum context length is 40960 tokens\. However, you requested/);
  });

  it('answers an unknown model with vLLM\'s 404', async () => {
    const { status, json } = await postJson(sim, '/v1/chat/completions', { model: 'gpt-4o', messages });
    expect(status).toBe(404);
    expect(json).toEqual({ error: { message: 'The model `gpt-4o` does not exist.', type: 'NotFoundError', param: 'model', code: 404 } });
  });

  it('accepts unknown fields', async () => {
    const { status } = await postJson(sim, '/v1/chat/completions', { messages, frobnicate: { deeply: [1, 2] }, user: 'u1', logit_bias: {} });
    expect(status).toBe(200);
  });

  it('answers the wrong method with 405', async () => {
    expect((await fetch(`${sim.url}/v1/chat/completions`)).status).toBe(405);
  });
});
