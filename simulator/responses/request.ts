// POST /v1/responses, read into the Chat Completions body the rest of the simulator understands, as
// vLLM (entrypoints/openai/serving_responses.py) and llama.cpp (server_chat_convert_responses_to_chatcmpl)
// do: `instructions` becomes the system message, message items become messages, function_call items
// become an assistant turn's tool_calls, function_call_output items become tool messages. So the
// planner, the chat template and the prefix cache treat a Responses turn exactly like a chat turn.
import { badRequest } from '../errors.js';
import type { Json } from '../validate.js';

/** What the response object echoes back from the request (OpenAI's Response fields). */
export interface ResponsesEcho {
  instructions: string | null;
  maxOutputTokens: number | null;
  parallelToolCalls: boolean;
  store: boolean;
  temperature: number | null;
  topP: number | null;
  text: Json;
  toolChoice: unknown;
  tools: Json[];
  metadata: Json;
  user: string | null;
}

export interface ResponsesRequest {
  /** A /v1/chat/completions body: messages, tools, tool_choice, response_format, max_tokens, … */
  chat: Json;
  echo: ResponsesEcho;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const describe = (value: unknown): string => (value === undefined ? 'undefined' : JSON.stringify(value)?.slice(0, 60) ?? String(value));
const TEXT_PARTS = new Set(['input_text', 'output_text', 'text', 'summary_text', 'refusal']);
const ROLES = new Set(['user', 'assistant', 'system', 'developer']);

export function readResponsesRequest(body: Json): ResponsesRequest {
  // A stateless simulator keeps no responses: continuing one is refused rather than silently ignored.
  if (body.previous_response_id !== undefined && body.previous_response_id !== null) {
    throw badRequest('previous_response_id', 'previous_response_id is not supported by the simulator: it stores no responses; send the whole conversation in input');
  }
  if (body.conversation !== undefined && body.conversation !== null) {
    throw badRequest('conversation', 'conversation is not supported by the simulator: it stores no conversations; send the whole conversation in input');
  }
  const instructions = optionalString(body, 'instructions');
  const messages: Json[] = instructions ? [{ role: 'system', content: instructions }] : [];
  const input = body.input;
  if (typeof input === 'string') messages.push({ role: 'user', content: input });
  else if (Array.isArray(input)) input.forEach((item, i) => addItem(messages, item, i));
  else throw badRequest('input', `input must be a string or an array of input items, got ${describe(input)}`);
  if (messages.length === 0 || messages.every((m) => m.role === 'system')) throw badRequest('input', 'input must hold at least one message or item');

  const tools = readTools(body.tools);
  const toolChoice = readToolChoice(body.tool_choice);
  const maxOutputTokens = body.max_output_tokens;
  if (maxOutputTokens !== undefined && maxOutputTokens !== null && (typeof maxOutputTokens !== 'number' || !Number.isInteger(maxOutputTokens) || maxOutputTokens < 1)) {
    throw badRequest('max_output_tokens', `max_output_tokens must be an integer of at least 1, got ${describe(maxOutputTokens)}`);
  }
  const parallel = body.parallel_tool_calls;
  if (parallel !== undefined && parallel !== null && typeof parallel !== 'boolean') throw badRequest('parallel_tool_calls', `parallel_tool_calls must be a boolean, got ${describe(parallel)}`);
  const store = body.store;
  if (store !== undefined && store !== null && typeof store !== 'boolean') throw badRequest('store', `store must be a boolean, got ${describe(store)}`);
  const metadata = body.metadata;
  if (metadata !== undefined && metadata !== null && !isObject(metadata)) throw badRequest('metadata', `metadata must be an object, got ${describe(metadata)}`);
  const { text, responseFormat } = readText(body.text);

  const chat: Json = {
    messages,
    stream: body.stream,
    model: body.model,
    temperature: body.temperature,
    top_p: body.top_p,
    seed: body.seed,
    priority: body.priority,
    cache_salt: body.cache_salt,
    max_tokens: maxOutputTokens ?? undefined,
    parallel_tool_calls: parallel ?? undefined,
  };
  if (tools.length > 0) chat.tools = tools.map((tool) => ({ type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters, strict: tool.strict } }));
  if (toolChoice !== undefined) chat.tool_choice = toolChoice;
  if (responseFormat) chat.response_format = responseFormat;
  return {
    chat,
    echo: {
      instructions,
      maxOutputTokens: (maxOutputTokens as number | null | undefined) ?? null,
      parallelToolCalls: (parallel as boolean | null | undefined) ?? true,
      store: (store as boolean | null | undefined) ?? true,
      temperature: typeof body.temperature === 'number' ? body.temperature : null,
      topP: typeof body.top_p === 'number' ? body.top_p : null,
      text,
      toolChoice: toolChoice ?? 'auto',
      tools: tools.map((tool) => ({ type: 'function', description: null, strict: true, ...tool })),
      metadata: (metadata as Json | null | undefined) ?? {},
      user: typeof body.user === 'string' ? body.user : null,
    },
  };
}

function optionalString(body: Json, field: string): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badRequest(field, `${field} must be a string, got ${describe(value)}`);
  return value;
}

/** Text of a message content or a function_call_output: a string, or text parts (others refused). */
function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw badRequest('input', `${where} must be a string or an array of content parts, got ${describe(content)}`);
  let text = '';
  content.forEach((part, j) => {
    if (!isObject(part) || typeof part.type !== 'string' || !TEXT_PARTS.has(part.type) || typeof part.text !== 'string') {
      throw badRequest('input', `${where}[${j}] must be a text part ({"type": "input_text" or "output_text", "text": string}); the simulated model reads text only`);
    }
    text += part.text;
  });
  return text;
}

function addItem(messages: Json[], item: unknown, i: number): void {
  if (!isObject(item)) throw badRequest('input', `input[${i}] must be an object, got ${describe(item)}`);
  const type = item.type ?? (item.role !== undefined ? 'message' : undefined);
  switch (type) {
    case 'message': {
      const role = item.role;
      if (typeof role !== 'string' || !ROLES.has(role)) throw badRequest('input', `input[${i}].role must be one of user, assistant, system, developer; got ${describe(role)}`);
      messages.push({ role: role === 'developer' ? 'system' : role, content: textOf(item.content, `input[${i}].content`) });
      return;
    }
    case 'function_call': {
      if (typeof item.call_id !== 'string' || typeof item.name !== 'string' || typeof item.arguments !== 'string') {
        throw badRequest('input', `input[${i}] (function_call) must have string call_id, name and arguments`);
      }
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
      // Calls made in one turn belong to one assistant message, after any text it said.
      const last = messages[messages.length - 1];
      if (last?.role === 'assistant') (last.tool_calls as Json[] | undefined)?.push(call) ?? (last.tool_calls = [call]);
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
      return;
    }
    case 'function_call_output': {
      if (typeof item.call_id !== 'string') throw badRequest('input', `input[${i}] (function_call_output) must have a string call_id`);
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: textOf(item.output, `input[${i}].output`) });
      return;
    }
    // A reasoning item replayed by a client carries nothing the simulated model reads.
    case 'reasoning':
      return;
    default:
      throw badRequest('input', `input[${i}].type ${describe(type)} is not supported (message, function_call, function_call_output, reasoning)`);
  }
}

interface FunctionTool extends Json {
  name: string;
}

function readTools(tools: unknown): FunctionTool[] {
  if (tools === undefined || tools === null) return [];
  if (!Array.isArray(tools)) throw badRequest('tools', `tools must be an array, got ${describe(tools)}`);
  return tools.map((tool, i) => {
    if (!isObject(tool) || tool.type !== 'function' || typeof tool.name !== 'string') {
      throw badRequest('tools', `tools[${i}] must be {"type": "function", "name": string, "parameters": {...}}; only function tools are supported`);
    }
    if (tool.parameters !== undefined && tool.parameters !== null && !isObject(tool.parameters)) throw badRequest('tools', `tools[${i}].parameters must be a JSON schema object`);
    return tool as FunctionTool;
  });
}

function readToolChoice(choice: unknown): unknown {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto' || choice === 'none' || choice === 'required') return choice;
  if (isObject(choice) && choice.type === 'function' && typeof choice.name === 'string') return { type: 'function', name: choice.name };
  throw badRequest('tool_choice', 'tool_choice must be "none", "auto", "required" or {"type": "function", "name": string}');
}

/** `text.format` → the chat path's response_format (json_schema is already supported there). */
function readText(text: unknown): { text: Json; responseFormat: Json | undefined } {
  if (text === undefined || text === null) return { text: { format: { type: 'text' } }, responseFormat: undefined };
  if (!isObject(text)) throw badRequest('text', `text must be an object, got ${describe(text)}`);
  const format = text.format;
  if (format === undefined || format === null) return { text: { ...text, format: { type: 'text' } }, responseFormat: undefined };
  if (!isObject(format)) throw badRequest('text.format', `text.format must be an object, got ${describe(format)}`);
  if (format.type === 'text') return { text, responseFormat: undefined };
  if (format.type === 'json_object') return { text, responseFormat: { type: 'json_object' } };
  if (format.type === 'json_schema') {
    if (format.schema !== undefined && !isObject(format.schema) && typeof format.schema !== 'boolean') throw badRequest('text.format', 'text.format.schema must be a JSON schema object');
    return { text, responseFormat: { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, strict: format.strict } } };
  }
  throw badRequest('text.format', `text.format.type must be one of text, json_object, json_schema; got ${describe(format.type)}`);
}
