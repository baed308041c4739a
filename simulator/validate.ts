// Checks the request fields the simulator acts on, so that bad input gets a 400 naming the field
// (never a crash). Unknown fields are accepted, as vLLM does.
import { badRequest } from './errors.js';

export type Json = Record<string, unknown>;

export interface SamplingRequest {
  model: string | undefined;
  stream: boolean;
  includeUsage: boolean;
  /** max_completion_tokens, else max_tokens; undefined = up to the context window. */
  maxTokens: number | undefined;
  minTokens: number;
  ignoreEos: boolean;
  priority: number;
  cacheSalt: string | undefined;
}

export interface ChatRequest extends SamplingRequest {
  messages: Json[];
  /** tool_choice names one function: vLLM then reports finish_reason "stop", not "tool_calls". */
  namedToolChoice: boolean;
}

export interface CompletionRequest extends SamplingRequest {
  prompt: string | Uint32Array;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const describe = (value: unknown): string => (value === undefined ? 'undefined' : JSON.stringify(value)?.slice(0, 60) ?? String(value));

function optionalInteger(body: Json, field: string, min: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw badRequest(field, `${field} must be an integer, got ${describe(value)}`);
  if (value < min) throw badRequest(field, `${field} must be at least ${min}, got ${value}`);
  return value;
}

function optionalNumber(body: Json, field: string, min: number, max: number): void {
  const value = body[field];
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badRequest(field, `${field} must be a number, got ${describe(value)}`);
  if (value < min || value > max) {
    throw badRequest(field, max === Number.POSITIVE_INFINITY ? `${field} must be at least ${min}, got ${value}` : `${field} must be between ${min} and ${max}, got ${value}`);
  }
}

function optionalBoolean(body: Json, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw badRequest(field, `${field} must be a boolean, got ${describe(value)}`);
  return value;
}

function samplingFields(body: Json): SamplingRequest {
  const model = body.model;
  if (model !== undefined && model !== null && typeof model !== 'string') throw badRequest('model', `model must be a string, got ${describe(model)}`);
  const n = optionalInteger(body, 'n', 1);
  if (n !== undefined && n > 1) throw badRequest('n', 'n > 1 is not supported by the simulator');
  optionalNumber(body, 'temperature', 0, Number.POSITIVE_INFINITY); // vLLM has no upper bound
  optionalNumber(body, 'top_p', 0, 1);
  optionalNumber(body, 'presence_penalty', -2, 2);
  optionalNumber(body, 'frequency_penalty', -2, 2);
  optionalInteger(body, 'seed', Number.MIN_SAFE_INTEGER);
  const stream = optionalBoolean(body, 'stream') ?? false;
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null && !isObject(streamOptions)) {
    throw badRequest('stream_options', `stream_options must be an object, got ${describe(streamOptions)}`);
  }
  const includeUsage = streamOptions ? optionalBoolean(streamOptions, 'include_usage') : undefined;
  if (streamOptions && !stream) throw badRequest('stream_options', 'stream_options can only be set when stream is true');
  const maxCompletionTokens = optionalInteger(body, 'max_completion_tokens', 1);
  const legacyMaxTokens = optionalInteger(body, 'max_tokens', 1);
  const maxTokens = maxCompletionTokens ?? legacyMaxTokens;
  const minTokens = optionalInteger(body, 'min_tokens', 0) ?? 0;
  if (maxTokens !== undefined && minTokens > maxTokens) throw badRequest('min_tokens', `min_tokens (${minTokens}) must be at most max_tokens (${maxTokens})`);
  const priority = body.priority;
  if (priority !== undefined && priority !== null && (typeof priority !== 'number' || !Number.isFinite(priority))) {
    throw badRequest('priority', `priority must be a number, got ${describe(priority)}`);
  }
  const cacheSalt = body.cache_salt;
  if (cacheSalt !== undefined && cacheSalt !== null && (typeof cacheSalt !== 'string' || cacheSalt === '')) {
    throw badRequest('cache_salt', 'cache_salt must be a non-empty string');
  }
  return {
    model: model ?? undefined,
    stream,
    includeUsage: includeUsage ?? false,
    maxTokens,
    minTokens,
    ignoreEos: optionalBoolean(body, 'ignore_eos') ?? false,
    priority: priority ?? 0,
    cacheSalt: cacheSalt ?? undefined,
  };
}

function checkResponseFormat(body: Json): void {
  const format = body.response_format;
  if (format === undefined || format === null) return;
  if (!isObject(format)) throw badRequest('response_format', `response_format must be an object, got ${describe(format)}`);
  const type = format.type;
  if (type !== 'text' && type !== 'json_object' && type !== 'json_schema') {
    throw badRequest('response_format', `response_format.type must be one of text, json_object, json_schema; got ${describe(type)}`);
  }
  if (type === 'json_schema') {
    const spec = format.json_schema;
    if (!isObject(spec)) throw badRequest('response_format', 'response_format.json_schema must be an object when type is json_schema');
    if (spec.schema !== undefined && !isObject(spec.schema) && typeof spec.schema !== 'boolean') {
      throw badRequest('response_format', 'response_format.json_schema.schema must be a JSON schema object');
    }
  }
}

function checkTools(body: Json): boolean {
  const tools = body.tools;
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) throw badRequest('tools', `tools must be an array, got ${describe(tools)}`);
    tools.forEach((tool, i) => {
      const fn = isObject(tool) ? tool.function : undefined;
      if (!isObject(tool) || tool.type !== 'function' || !isObject(fn) || typeof fn.name !== 'string') {
        throw badRequest('tools', `tools[${i}] must be {"type": "function", "function": {"name": string, ...}}`);
      }
    });
  }
  const choice = body.tool_choice;
  if (choice === undefined || choice === null || choice === 'none' || choice === 'auto' || choice === 'required') return false;
  // The nested form is Chat Completions'; the flat {type, name} one is the Responses API's.
  const name = isObject(choice) ? (isObject(choice.function) ? choice.function.name : choice.name) : undefined;
  if (typeof name !== 'string') {
    throw badRequest('tool_choice', 'tool_choice must be "none", "auto", "required" or {"type": "function", "function": {"name": string}}');
  }
  return true;
}

export function parseChatRequest(body: Json): ChatRequest {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw badRequest('messages', 'messages must be a non-empty array');
  messages.forEach((message, i) => {
    if (!isObject(message) || typeof message.role !== 'string') throw badRequest('messages', `messages[${i}] must be an object with a string role`);
    const content = message.content;
    if (content !== undefined && content !== null && typeof content !== 'string' && !Array.isArray(content)) {
      throw badRequest('messages', `messages[${i}].content must be a string, an array of parts or null`);
    }
  });
  checkResponseFormat(body);
  const namedToolChoice = checkTools(body);
  return { ...samplingFields(body), messages: messages as Json[], namedToolChoice };
}

export function parseCompletionRequest(body: Json): CompletionRequest {
  let prompt = body.prompt;
  // A batch of one prompt is accepted; several would be several choices (unsupported, like n > 1).
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) prompt = prompt[0];
  let parsed: string | Uint32Array;
  if (typeof prompt === 'string') parsed = prompt;
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => Number.isInteger(t) && t >= 0 && t < 2 ** 32)) parsed = Uint32Array.from(prompt as number[]);
  else throw badRequest('prompt', 'prompt must be a string, an array of token ids, or an array holding one of them');
  checkResponseFormat(body);
  return { ...samplingFields(body), prompt: parsed };
}
