import type { OpenAI } from 'openai';
import type { CallRecord, ChatMessage, JsonSchema, Tool, ToolChoice } from './types.js';
import { readGatewayReport, tagHeaders, type CallTags } from './wire.js';

// One turn of a stage: a tagged, non-streaming chat completion (the gateway reports cost only on
// non-streaming responses), and what it cost in tokens, time and queueing.

export interface TurnRequest {
  model: string;
  messages: readonly ChatMessage[];
  tools?: readonly Tool[];
  toolChoice?: ToolChoice;
  responseFormat?: { name: string; schema: JsonSchema; strict?: boolean };
  params?: Record<string, unknown>;
}

export interface FunctionCall {
  id: string;
  name: string;
  arguments: string;
}

export interface TurnAnswer {
  text: string;
  /** Function calls the model asked for, in order. */
  toolCalls: FunctionCall[];
  /** The assistant message, to append to the conversation before the tool results. */
  message: ChatMessage;
  record: CallRecord;
}

export async function callTurn(client: OpenAI, turn: number, request: TurnRequest, tags: CallTags, signal: AbortSignal): Promise<TurnAnswer> {
  const body: Record<string, unknown> = { ...request.params, model: request.model, messages: request.messages };
  if (request.tools && request.tools.length > 0) {
    body.tools = request.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, parameters: t.parameters, ...(t.description ? { description: t.description } : {}) },
    }));
    if (request.toolChoice !== undefined) body.tool_choice = request.toolChoice;
  }
  if (request.responseFormat) {
    const { name, schema, strict } = request.responseFormat;
    body.response_format = { type: 'json_schema', json_schema: { name, schema, strict: strict ?? true } };
  }

  const started = performance.now();
  const { data, response } = await client.chat.completions
    .create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming, { headers: tagHeaders(tags), signal })
    .withResponse();
  const durationMs = performance.now() - started;

  const choice = data.choices[0];
  const toolCalls: FunctionCall[] = [];
  for (const call of choice?.message.tool_calls ?? []) {
    if (call.type === 'function') toolCalls.push({ id: call.id, name: call.function.name, arguments: call.function.arguments });
  }
  const text = choice?.message.content ?? '';
  const message: ChatMessage =
    toolCalls.length > 0
      ? {
          role: 'assistant',
          content: text || null,
          tool_calls: toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
        }
      : { role: 'assistant', content: text };

  const record: CallRecord = {
    turn,
    model: data.model,
    ...(tags.priority !== undefined ? { priority: tags.priority } : {}),
    ...(tags.cache !== undefined ? { cacheHint: tags.cache } : {}),
    ...readGatewayReport(response.headers),
    tokens: {
      prompt: data.usage?.prompt_tokens ?? 0,
      completion: data.usage?.completion_tokens ?? 0,
      cached: data.usage?.prompt_tokens_details?.cached_tokens ?? 0,
    },
    durationMs,
    finishReason: choice?.finish_reason ?? 'unknown',
    toolCalls: toolCalls.map((c) => c.name),
  };
  return { text, toolCalls, message, record };
}
