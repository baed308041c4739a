import { describe, expect, it } from 'vitest';
import { upstreamTimeout } from '../../errors.js';
import { streamError } from '../../gateway/engine-error.js';
import { SseRelay, type RelayOutcome } from '../../gateway/sse.js';
import { usageOfJson } from '../../gateway/usage.js';

const enc = (s: string) => new TextEncoder().encode(s);
const chunk = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;
const USAGE = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, prompt_tokens_details: { cached_tokens: 8 } };

/** Drives the relay the way a platform does: push each chunk, then end or fail. */
async function relay(parts: (string | Error)[], stripUsageChunk: boolean, clientGone = false, responses = false) {
  let outcome: RelayOutcome | undefined;
  let firstChunks = 0;
  const sse = new SseRelay({
    stripUsageChunk,
    responses,
    describeError: () => upstreamTimeout('backend x: the engine stopped sending mid-response'),
    describeStreamError: (event) => streamError(event, 'x'),
    clientGone: () => clientGone,
    onFirstChunk: () => firstChunks++,
    onEnd: (o) => (outcome = o),
  });
  const out: string[] = [];
  const send = (bytes: Uint8Array | undefined) => bytes && out.push(Buffer.from(bytes).toString());
  const failure = parts.find((p): p is Error => p instanceof Error);
  for (const part of parts) {
    if (part instanceof Error) break;
    send(sse.push(enc(part)));
  }
  send(failure ? sse.fail(failure) : sse.end());
  expect(outcome).toBeUndefined(); // accounted only after the caller has written the last bytes
  await Promise.resolve();
  return { out, outcome: outcome!, firstChunks };
}

const content = chunk({ choices: [{ index: 0, delta: { content: 'hi' } }] });
const usageChunk = chunk({ choices: [], usage: USAGE });

describe('SSE relay', () => {
  it('forwards each event as it comes and reads the usage without changing a byte', async () => {
    const parts = [content, content, usageChunk, 'data: [DONE]\n\n'];
    const { out, outcome, firstChunks } = await relay(parts, false);
    expect(out).toEqual(parts);
    expect(outcome.usage).toEqual({ promptTokens: 12, completionTokens: 3, cachedTokens: 8 });
    expect(firstChunks).toBe(1);
  });

  it('drops the usage chunk Orla asked for when the client did not', async () => {
    const { out, outcome } = await relay([content, usageChunk + 'data: [DONE]\n\n'], true);
    expect(out.join('')).toBe(content + 'data: [DONE]\n\n');
    expect(outcome.usage?.promptTokens).toBe(12);
  });

  it('handles a whole stream arriving as one chunk: only the usage event is dropped, tool calls are seen', async () => {
    const toolFinish = chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
    const body = content.repeat(40) + toolFinish + usageChunk + 'data: [DONE]\n\n';
    const stripped = await relay([body], true);
    expect(stripped.out.join('')).toBe(content.repeat(40) + toolFinish + 'data: [DONE]\n\n');
    expect(stripped.outcome.usage).toEqual({ promptTokens: 12, completionTokens: 3, cachedTokens: 8 });
    expect(stripped.outcome.toolCalls).toBe(true);
    expect((await relay([body], false)).out.join('')).toBe(body);
    expect((await relay([usageChunk + 'data: [DONE]\n\n'], true)).out.join('')).toBe('data: [DONE]\n\n');
  });

  it('keeps usage carried on a content chunk even when stripping', async () => {
    const withUsage = chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: USAGE });
    const { out } = await relay([withUsage], true);
    expect(out.join('')).toBe(withUsage);
  });

  it('reads the usage of OpenAI-style streams that send "usage":null in every chunk', async () => {
    const withNull = chunk({ choices: [{ index: 0, delta: { content: 'hi' } }], usage: null });
    const { out, outcome } = await relay([withNull, withNull, usageChunk + 'data: [DONE]\n\n'], true);
    expect(out.join('')).toBe(withNull + withNull + 'data: [DONE]\n\n');
    expect(outcome.usage?.completionTokens).toBe(3);
  });

  it('never cuts an event in two: a split event goes out whole', async () => {
    const { out } = await relay([content.slice(0, 10), content.slice(10) + content.slice(0, 5), content.slice(5)], false);
    expect(out).toEqual([content, content]);
  });

  it('ends a failed stream with an SSE error event, never a fake [DONE]', async () => {
    const { out, outcome } = await relay([content, new Error('stall')], false);
    expect(out[0]).toBe(content);
    expect(JSON.parse(out[1]!.slice('data: '.length))).toEqual({
      error: { message: 'backend x: the engine stopped sending mid-response', type: 'timeout_error', code: 'upstream_timeout', param: null },
    });
    expect(out.join('')).not.toContain('[DONE]');
    expect(outcome.error?.status).toBe(504);
  });

  it('writes nothing more when the client is the one that left', async () => {
    const { out, outcome } = await relay([content, new Error('aborted')], false, true);
    expect(out).toEqual([content]);
    expect(outcome.clientGone).toBe(true);
  });

  it('reads usage from a Responses API completion event', async () => {
    const event = `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: { usage: { input_tokens: 5, output_tokens: 2, input_tokens_details: { cached_tokens: 1 } } } })}\n\n`;
    const { outcome } = await relay([event], false);
    expect(outcome.usage).toEqual({ promptTokens: 5, completionTokens: 2, cachedTokens: 1 });
  });
});

describe('SSE framing', () => {
  it('relays one huge event that arrives in thousands of pieces whole, once it ends', async () => {
    const big = chunk({ choices: [{ index: 0, delta: { content: 'x'.repeat(200_000) } }] });
    const pieces = Array.from({ length: Math.ceil(big.length / 64) }, (_, i) => big.slice(i * 64, (i + 1) * 64));
    const { out } = await relay([...pieces, content], false);
    expect(out).toEqual([big, content]);
  });

  it('finds a boundary split between two chunks, LF or CRLF', async () => {
    const crlf = content.replace('\n\n', '\r\n\r\n');
    expect((await relay([content.slice(0, -1), '\n' + content], false)).out).toEqual([content + content]);
    expect((await relay([crlf.slice(0, -3), crlf.slice(-3, -1), crlf.slice(-1)], false)).out).toEqual([crlf]);
  });
});

describe('errors and tool calls the engine reports inside the stream', () => {
  const vllmError = 'data: {"error": {"object": "error", "message": "boom", "type": "InternalServerError", "param": null, "code": 500}}\n\n';

  it('an error event is relayed as it is and ends the call as failed, with its code', async () => {
    const { out, outcome } = await relay([content, vllmError, 'data: [DONE]\n\n'], false);
    expect(out.join('')).toBe(content + vllmError + 'data: [DONE]\n\n');
    expect(outcome.error?.status).toBe(500);
    expect(outcome.error?.message).toBe('backend x: the engine reported an error mid-stream (InternalServerError)'); // not its text: it may quote the prompt
    const clientFault = await relay([vllmError.replace('"code": 500', '"code": 400')], false);
    expect(clientFault.outcome.error?.status).toBe(400);
  });

  it("SGLang's order after an abort, the error then the usage chunk then [DONE], fails the call too", async () => {
    const sglangError = 'data: {"error": {"object": "error", "message": "aborted", "type": "BAD_REQUEST", "param": null, "code": 400}}\n\n';
    const usage = chunk({ choices: [], usage: { prompt_tokens: 20, completion_tokens: 1, total_tokens: 21 } });
    const { outcome } = await relay([content, content, sglangError, usage, 'data: [DONE]\n\n'], false);
    expect(outcome.error?.status).toBe(400);
    expect(outcome.usage?.promptTokens).toBe(20);
    // The same in one batch (TCP merged the chunks), after short events and with no space after "data:".
    const merged = await relay([content + ':\n\n' + sglangError.replace('data: ', 'data:') + usage + 'data: [DONE]\n\n'], false);
    expect(merged.outcome.error?.status).toBe(400);
  });

  it('content that merely mentions an error is not one', async () => {
    const mention = chunk({ choices: [{ index: 0, delta: { content: 'data: {"error": 1}' } }] });
    expect((await relay([mention, 'data: [DONE]\n\n'], false)).outcome.error).toBeUndefined();
  });

  const event = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

  it('a Responses API stream: a function_call item is a tool turn, response.completed has the usage', async () => {
    const usage = { input_tokens: 20, input_tokens_details: { cached_tokens: 16 }, output_tokens: 4, total_tokens: 24 };
    const call = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup', arguments: '' };
    const parts = [
      event('response.created', { response: { id: 'resp_1', status: 'in_progress', usage: null } }),
      event('response.output_item.added', { output_index: 0, item: call }),
      event('response.function_call_arguments.delta', { output_index: 0, item_id: 'fc_1', delta: '{}' }),
      event('response.completed', { response: { id: 'resp_1', status: 'completed', output: [{ ...call, arguments: '{}' }], usage, metadata: {} } }),
    ];
    const { out, outcome } = await relay(parts, false, false, true);
    expect(out).toEqual(parts);
    expect(outcome).toMatchObject({ toolCalls: true, usage: { promptTokens: 20, cachedTokens: 16, completionTokens: 4 }, error: undefined });
    const text = [event('response.output_text.delta', { delta: 'hi' }), event('response.completed', { response: { output: [], usage } })];
    expect((await relay(text, false, false, true)).outcome.toolCalls).toBe(false);
  });

  it('a Responses API error or failed response fails the call', async () => {
    const failed = event('response.failed', { response: { status: 'failed', error: { code: 'server_error', message: 'died' } } });
    expect((await relay([failed], false, false, true)).outcome.error?.status).toBe(502);
    const error = event('error', { code: 'rate_limit_exceeded', message: 'slow down' });
    expect((await relay([error], false, false, true)).outcome.error?.message).toContain('(rate_limit_exceeded)');
  });
});

describe('usage of a JSON response', () => {
  it('reads the usage object alone, even with braces inside strings before it', () => {
    const body = JSON.stringify({ id: 'x', choices: [{ message: { content: 'a "usage": {weird} }' } }], usage: USAGE });
    expect(usageOfJson(body)).toEqual({ promptTokens: 12, completionTokens: 3, cachedTokens: 8 });
    expect(usageOfJson('{"data":[]}')).toBeUndefined();
  });
});
