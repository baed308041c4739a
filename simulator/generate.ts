// POST /v1/chat/completions and /v1/completions: validate, tokenize, plan the output, run it through
// the engine, and answer the way vLLM does, streaming each token as the engine emits it.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { planOutput, type PlannedOutput } from './content.js';
import { EngineRejection, type Engine } from './engine.js';
import { badRequest, SimulatorError, unknownModel } from './errors.js';
import { Exchange, sendError, type Endpoint } from './exchange.js';
import { FAULT_HEADER, parseFault, type Fault } from './faults.js';
import { buildOutputPlan, type OutputPlan } from './output.js';
import { assistantSegments, renderChatPrompt, tokenIds } from './tokens.js';
import { parseChatRequest, parseCompletionRequest, type ChatRequest, type CompletionRequest, type Json } from './validate.js';
import type { ResponseIdentity } from './wire.js';

/** Request header naming the session (workflow run) a request belongs to, for POST /v1/sessions/{id}/flush. */
export const SESSION_HEADER = 'x-session-id';

export interface GenerationContext {
  engine: Engine;
  models: readonly string[];
  faults: boolean;
}

export function serveGeneration(endpoint: Endpoint, ctx: GenerationContext, req: IncomingMessage, res: ServerResponse, body: Json): void {
  let fault: Fault | null = null;
  if (ctx.faults) {
    const parsed = parseFault(req.headers[FAULT_HEADER]);
    if (parsed instanceof SimulatorError) return sendError(res, parsed);
    fault = parsed;
  }
  if (fault?.kind === 'reset') return void req.socket.destroy();
  if (fault?.kind === 'hang') return; // close() or the client ends it
  if (fault?.kind === 'status') return sendError(res, new SimulatorError(fault.status, `simulated failure (${FAULT_HEADER}: status=${fault.status})`));

  let request: ChatRequest | CompletionRequest;
  let promptIds: Uint32Array;
  let plan: OutputPlan;
  let model: string;
  try {
    request = endpoint === 'chat' ? parseChatRequest(body) : parseCompletionRequest(body);
    // vLLM serves its first model when `model` is left out.
    model = request.model ?? ctx.models[0]!;
    if (!ctx.models.includes(model)) throw unknownModel(model);
    promptIds = endpoint === 'chat' ? renderChatPrompt((request as ChatRequest).messages, body.tools) : promptTokens((request as CompletionRequest).prompt);
    const maxTokens = resolveMaxTokens(ctx.engine.profile.maxModelLen, promptIds.length, request.maxTokens, endpoint);
    const namedToolChoice = endpoint === 'chat' && (request as ChatRequest).namedToolChoice;
    plan = buildOutputPlan(plannedFor(endpoint, body, maxTokens), { maxTokens, minTokens: request.minTokens, ignoreEos: request.ignoreEos, namedToolChoice });
  } catch (error) {
    if (error instanceof SimulatorError) return sendError(res, error);
    throw error;
  }

  const identity: ResponseIdentity = {
    // vLLM builds the id from X-Request-Id when the client sends one.
    id: `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${headerValue(req, 'x-request-id') ?? randomUUID().replaceAll('-', '')}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
  if (req.socket.destroyed) return; // the client left while its body was read
  const exchange = new Exchange(endpoint, res, identity, plan, request.stream, request.includeUsage, fault);
  try {
    exchange.handle = ctx.engine.submit({
      promptTokenIds: promptIds,
      outputTokenIds: plan.tokenIds,
      finishReason: plan.finishReason,
      priority: request.priority,
      cacheSalt: request.cacheSalt,
      sessionId: headerValue(req, SESSION_HEADER),
      onFirstToken: () => exchange.firstToken(),
      onToken: (index) => exchange.token(index),
      onDone: (result) => exchange.done(result),
    });
  } catch (error) {
    if (error instanceof EngineRejection) return sendError(res, badRequest('messages', error.message));
    throw error;
  }
  exchange.start();
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first ? first : undefined;
}

function promptTokens(prompt: string | Uint32Array): Uint32Array {
  return typeof prompt === 'string' ? tokenIds(prompt) : prompt;
}

/** vLLM's default and limit: the completion may use what the context window leaves. */
function resolveMaxTokens(maxModelLen: number, promptLength: number, requested: number | undefined, endpoint: Endpoint): number {
  const input = endpoint === 'chat' ? 'messages' : 'prompt';
  if (promptLength >= maxModelLen) {
    throw badRequest(input, `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptLength} input tokens. Please reduce the length of the input messages.`);
  }
  if (requested === undefined) return maxModelLen - promptLength;
  if (promptLength + requested > maxModelLen) {
    throw badRequest(
      'max_tokens',
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptLength + requested} tokens (${promptLength} in the messages, ${requested} in the completion). Please reduce the length of the messages or completion.`,
    );
  }
  return requested;
}

function plannedFor(endpoint: Endpoint, body: Json, maxTokens: number): PlannedOutput {
  const planned = planOutput(body, maxTokens);
  // A completion has no tool parser: the calls are just text.
  if (endpoint === 'completion' && planned.kind === 'tool_calls') return { kind: 'text', text: assistantSegments('', planned.calls).join('') };
  return planned;
}
