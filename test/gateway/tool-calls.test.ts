import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningGateway } from '../../gateway/server.js';
import { startTestGateway, twoBackendConfig } from '../helpers/gateway.js';
import { json, startRecordingEngine, USAGE, type RecordingEngine } from '../helpers/recording-engine.js';

// A run whose last answer called tools is waiting on a tool, also when the call was forced: with a
// named tool_choice vLLM and OpenAI finish with "stop", and only the message says it called a tool.

let engine: RecordingEngine;
let gateway: RunningGateway;
beforeAll(async () => {
  engine = await startRecordingEngine();
  gateway = await startTestGateway(twoBackendConfig(engine.url, engine.url));
});
afterAll(async () => {
  await gateway.close();
  await engine.close();
});

const toolCall = { id: 'call_1', type: 'function', function: { name: 'lookup_order', arguments: '{"order_id":"A-17"}' } };

const call = async (run: string, stream: boolean) => {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': 'reply' },
    body: JSON.stringify({ model: 'x', stream, messages: [{ role: 'user', content: 'Where is my order?' }], tool_choice: { type: 'function', function: { name: 'lookup_order' } } }),
  });
  await res.text();
  return (await (await fetch(`${gateway.url}/v1/workflows/${run}`)).json()).status as string;
};

it('a forced tool call (finish_reason "stop") leaves the run waiting on its tool, streamed or not', async () => {
  engine.respondWith((_r, res) =>
    json(res, 200, { id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [toolCall] }, finish_reason: 'stop' }], usage: USAGE }),
  );
  expect(await call('forced-json', false)).toBe('waiting_on_tool');

  engine.respondWith((_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (body: object) => res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', ...body })}\n\n`);
    event({ choices: [{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, ...toolCall, function: { name: 'lookup_order', arguments: '' } }] } }] });
    event({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"order_id":"A-17"}' } }] } }] });
    event({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    event({ choices: [], usage: USAGE });
    res.end('data: [DONE]\n\n');
  });
  expect(await call('forced-stream', true)).toBe('waiting_on_tool');

  engine.respondWith(undefined); // a plain answer: the run is idle, not waiting
  expect(await call('plain', false)).toBe('idle');
});

it('X-Orla-Cache says when a flush hint is put off because the turn called tools (non-streaming)', async () => {
  const hinted = (run: string) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': 'reply', 'x-orla-cache': 'flush' },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'Where is my order?' }] }),
    }).then(async (res) => (await res.text(), res.headers.get('x-orla-cache')));
  engine.respondWith((_r, res) =>
    json(res, 200, { id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [toolCall] }, finish_reason: 'tool_calls' }], usage: USAGE }),
  );
  expect(await hinted('deferred')).toBe('preserve; hint=flush; deferred=tool-calls; replica=new');
  engine.respondWith(undefined); // the loop's last turn: the flush happens now
  expect(await hinted('deferred')).toMatch(/^release; hint=flush; replica=/);
});

it('a Responses API turn ending in a function_call leaves the run waiting on its tool, with its usage read, streamed or not', async () => {
  const usage = { input_tokens: 30, input_tokens_details: { cached_tokens: 24 }, output_tokens: 6, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 36 };
  const item = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup_order', arguments: '{"order_id":"A-17"}', status: 'completed' };
  const response = { id: 'resp_1', object: 'response', status: 'completed', output: [item], usage, metadata: {} };
  const respond = async (run: string, stream: boolean) => {
    const res = await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-orla-workflow-run': run, 'x-orla-stage': 'reply' },
      body: JSON.stringify({ model: 'x', stream, input: 'Where is my order?' }),
    });
    await res.text();
    return (await fetch(`${gateway.url}/v1/workflows/${run}`)).json();
  };
  engine.respondWith((_r, res) => {
    // OpenAI's own answers are pretty-printed: the tool turn is recognised with spaces too.
    const text = JSON.stringify(response, null, 2);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  });
  const plain = await respond('responses-json', false);
  expect(plain).toMatchObject({ status: 'waiting_on_tool', tokens: { prompt: 30, cached: 24, completion: 6 } });

  engine.respondWith((_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    event('response.created', { response: { ...response, status: 'in_progress', output: [], usage: null } });
    event('response.output_item.added', { output_index: 0, item: { ...item, arguments: '', status: 'in_progress' } });
    event('response.function_call_arguments.done', { output_index: 0, item_id: 'fc_1', arguments: item.arguments });
    event('response.completed', { response });
    res.end();
  });
  const streamed = await respond('responses-stream', true);
  expect(streamed).toMatchObject({ status: 'waiting_on_tool', tokens: { prompt: 30, cached: 24, completion: 6 } });
});
