// POST /v1/chat/completions, /v1/completions and /v1/responses: validate, tokenize, plan the output,
// run it through the engine, and answer the way the personality's engine does, streaming each token
// as the engine emits it.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { planOutput, type PlannedOutput } from './content.js';
import { EngineRejection, type Engine } from './engine.js';
import { badRequest, SimulatorError, unknownModel } from './errors.js';
import { Exchange, openStream, sendError, type Endpoint, type WireFormat } from './exchange.js';
import { FAULT_HEADER, parseFault, type Fault } from './faults.js';
import { buildOutputPlan, type OutputPlan } from './output.js';
import { StreamRejection, type Personality } from './personalities/personality.js';
import { readResponsesRequest } from './responses/request.js';
import { ResponsesFormat } from './responses/wire.js';
import { assistantSegments, renderChatPrompt, tokenIds } from './tokens.js';
import { parseChatRequest, parseCompletionRequest, type ChatRequest, type CompletionRequest, type Json } from './validate.js';
import { ChatChunks, CompletionChunks, type ResponseIdentity } from './wire.js';

/** Request header naming the session (workflow run) a request belongs to, for POST /v1/sessions/{id}/flush. */
export const SESSION_HEADER = 'x-session-id';

export interface GenerationContext {
  engine: Engine;
  models: readonly string[];
  faults: boolean;
  personality: Personality;
}

const ID_PREFIX: Readonly<Record<Endpoint, string>> = { chat: 'chatcmpl-', completion: 'cmpl-', responses: 'resp_' };

export function serveGeneration(endpoint: Endpoint, ctx: GenerationContext, req: IncomingMessage, res: ServerResponse, body: Json): void {
  const { personality } = ctx;
  const fail = (error: SimulatorError): void => sendError(res, error, personality.errorBody(error, endpoint));
  let fault: Fault | null = null;
  if (ctx.faults) {
    const parsed = parseFault(req.headers[FAULT_HEADER]);
    if (parsed instanceof SimulatorError) return fail(parsed);
    fault = parsed;
  }
  if (fault?.kind === 'reset') return void req.socket.destroy();
  if (fault?.kind === 'hang') return; // close() or the client ends it
  if (fault?.kind === 'status') return fail(new SimulatorError(fault.status, `simulated failure (${FAULT_HEADER}: status=${fault.status})`));

  let request: ChatRequest | CompletionRequest | undefined;
  let chatBody = body;
  let responses: ReturnType<typeof readResponsesRequest> | null = null;
  let promptIds: Uint32Array;
  let plan: OutputPlan;
  let model: string;
  let admission: ReturnType<Personality['admit']>;
  try {
    if (endpoint === 'responses') {
      responses = readResponsesRequest(body);
      chatBody = responses.chat;
    }
    request = endpoint === 'completion' ? parseCompletionRequest(chatBody) : parseChatRequest(chatBody);
    // vLLM serves its first model when `model` is left out.
    model = request.model ?? ctx.models[0]!;
    if (!ctx.models.includes(model)) {
      if (!personality.anyModel) throw unknownModel(model);
      model = ctx.models[0]!;
    }
    admission = personality.admit(body, request, endpoint);
    promptIds = endpoint === 'completion' ? promptTokens((request as CompletionRequest).prompt) : renderChatPrompt((request as ChatRequest).messages, chatBody.tools);
    const maxTokens = resolveMaxTokens(ctx.engine.profile.maxModelLen, promptIds.length, request.maxTokens, endpoint);
    const namedToolChoice = endpoint !== 'completion' && (request as ChatRequest).namedToolChoice;
    plan = buildOutputPlan(plannedFor(endpoint, chatBody, maxTokens), { maxTokens, minTokens: request.minTokens, ignoreEos: request.ignoreEos, namedToolChoice });
  } catch (error) {
    if (error instanceof StreamRejection) return rejectInStream(res, error, request?.stream ?? false, personality, endpoint);
    if (error instanceof SimulatorError) return fail(error);
    throw error;
  }

  const identity: ResponseIdentity = {
    // vLLM builds the id from X-Request-Id when the client sends one.
    id: `${ID_PREFIX[endpoint]}${headerValue(req, 'x-request-id') ?? randomUUID().replaceAll('-', '')}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
  if (req.socket.destroyed) return; // the client left while its body was read
  const format = wireFormat(endpoint, identity, plan, request, personality, responses);
  const streamError = format instanceof ResponsesFormat ? () => format.error('simulated engine failure') : () => personality.streamError('simulated engine failure', endpoint);
  const malformed = `data: {"id":"${identity.id}","object":"chat.completion.chunk","choices":[{"delta":{"content":"\n\n`;
  const exchange = new Exchange(res, format, request.stream, fault, streamError, malformed);
  try {
    exchange.handle = personality.submit(
      ctx.engine,
      {
        promptTokenIds: promptIds,
        outputTokenIds: plan.tokenIds,
        finishReason: plan.finishReason,
        priority: admission.priority,
        cacheSalt: admission.cacheSalt ?? request.cacheSalt,
        sessionId: headerValue(req, SESSION_HEADER),
        pin: admission.pin,
        onFirstToken: () => exchange.firstToken(),
        onToken: (index) => exchange.token(index),
        onDone: (result) => exchange.done(result),
      },
      body,
    );
  } catch (error) {
    if (error instanceof EngineRejection) return fail(badRequest(endpoint === 'completion' ? 'prompt' : endpoint === 'responses' ? 'input' : 'messages', error.message));
    throw error;
  }
  exchange.start();
}

function wireFormat(endpoint: Endpoint, identity: ResponseIdentity, plan: OutputPlan, request: ChatRequest | CompletionRequest, personality: Personality, responses: ReturnType<typeof readResponsesRequest> | null): WireFormat {
  if (endpoint === 'responses') return new ResponsesFormat(identity, plan, responses!.echo, personality.usage);
  if (endpoint === 'chat') return new ChatChunks(identity, plan, personality.usage, request.includeUsage);
  return new CompletionChunks(identity, plan, personality.usage, request.includeUsage);
}

/** The engine refused the request from inside its stream: a 200 event stream holding only the error. */
function rejectInStream(res: ServerResponse, rejection: StreamRejection, stream: boolean, personality: Personality, endpoint: Endpoint): void {
  if (!stream) return sendError(res, rejection.error, personality.errorBody(rejection.error, endpoint));
  openStream(res);
  res.end(personality.streamError(rejection.error.message, endpoint));
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
  const input = endpoint === 'chat' ? 'messages' : endpoint === 'responses' ? 'input' : 'prompt';
  if (promptLength >= maxModelLen) {
    throw badRequest(input, `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptLength} input tokens. Please reduce the length of the input messages.`);
  }
  if (requested === undefined) return maxModelLen - promptLength;
  if (promptLength + requested > maxModelLen) {
    throw badRequest(
      endpoint === 'responses' ? 'max_output_tokens' : 'max_tokens',
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
