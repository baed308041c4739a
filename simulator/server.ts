// The simulator's HTTP surface, on plain node:http rather than Hono: the simulator sits under every
// gateway benchmark and must never be what limits it, so no routing framework, no Request/Response
// objects, one string write per streamed token. Generation, health and models are common to every
// engine; the rest (cache controls, sessions, slots, metrics, unknown routes) is the personality's.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Engine } from './engine.js';
import { badRequest, SimulatorError } from './errors.js';
import { sendError, sendJson, type Endpoint } from './exchange.js';
import { serveGeneration, type GenerationContext } from './generate.js';
import type { Personality, RouteRequest } from './personalities/personality.js';
import type { Json } from './validate.js';

export interface SimulatorServerOptions {
  engine: Engine;
  /** Served model names; the first is the default and the metrics' model_name. */
  models: readonly string[];
  faults: boolean;
  personality: Personality;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const GENERATION: Readonly<Record<string, Endpoint>> = { '/v1/chat/completions': 'chat', '/v1/completions': 'completion', '/v1/responses': 'responses' };
const NO_QUERY = new URLSearchParams();

export function createSimulatorServer(options: SimulatorServerOptions): Server {
  const { engine, models, personality } = options;
  const context: GenerationContext = { engine, models, faults: options.faults, personality };
  const modelList = JSON.stringify(personality.modelList?.(models, engine.profile.maxModelLen) ?? modelCards(models, engine.profile.maxModelLen));
  const fail = (res: ServerResponse, error: SimulatorError): void => sendError(res, error, personality.errorBody(error));

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const method = req.method ?? 'GET';
    if (personality.refuse(req, res, path)) return;
    const endpoint = GENERATION[path];
    if (endpoint !== undefined) {
      if (method !== 'POST') return personality.wrongMethod ? personality.wrongMethod(res) : sendJson(res, 405, '{"detail":"Method Not Allowed"}');
      return readJson(req, res, fail, (body) => serveGeneration(endpoint, context, req, res, body));
    }
    if (path === '/health' && method === 'GET') return personality.health ? personality.health(res) : void res.writeHead(200, { 'content-length': 0 }).end();
    if (path === '/v1/models' && method === 'GET') return sendJson(res, 200, modelList);
    const request: RouteRequest = {
      req,
      res,
      method,
      path,
      query: queryAt < 0 ? NO_QUERY : new URLSearchParams(url.slice(queryAt + 1)),
      readJson: (onBody, readOptions) => readJson(req, res, fail, onBody, readOptions?.optional),
    };
    if (!personality.route(request)) personality.notFound(res);
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    try {
      route(req, res);
    } catch (error) {
      internalError(res, error, fail);
    }
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  // Longer than common client pools' idle timeouts, so a client never reuses a socket we are closing.
  server.keepAliveTimeout = 65_000;
  return server;
}

function internalError(res: ServerResponse, error: unknown, fail: (res: ServerResponse, error: SimulatorError) => void): void {
  console.error('simulator: request failed', error);
  if (res.headersSent) return void res.destroy();
  fail(res, new SimulatorError(500, 'internal simulator error'));
}

/** Reads a JSON object body; `optional`: an empty body reads as {} (control routes called without one). */
function readJson(req: IncomingMessage, res: ServerResponse, fail: (res: ServerResponse, error: SimulatorError) => void, onBody: (body: Json) => void, optional = false): void {
  const parts: Buffer[] = [];
  let size = 0;
  req.on('data', (part: Buffer) => {
    size += part.length;
    if (size <= MAX_BODY_BYTES) parts.push(part);
  });
  req.on('error', () => res.destroy());
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return fail(res, new SimulatorError(413, `the request body exceeds ${MAX_BODY_BYTES} bytes`));
    let body: unknown;
    const text = Buffer.concat(parts, size).toString('utf8');
    if (optional && text.trim() === '') body = {};
    else {
      try {
        body = JSON.parse(text);
      } catch {
        return fail(res, badRequest(null, 'the request body is not valid JSON'));
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(res, badRequest(null, 'the request body must be a JSON object'));
    try {
      onBody(body as Json);
    } catch (error) {
      internalError(res, error, fail);
    }
  });
}

/** vLLM's /v1/models entries (vllm/entrypoints/openai/models/protocol.py ModelCard). */
function modelCards(models: readonly string[], maxModelLen: number): unknown {
  const created = Math.floor(Date.now() / 1000);
  return {
    object: 'list',
    data: models.map((id) => ({
      id,
      object: 'model',
      created,
      owned_by: 'vllm',
      root: id,
      parent: null,
      max_model_len: maxModelLen,
      permission: [
        {
          id: `modelperm-${id.replace(/[^A-Za-z0-9]/g, '')}`,
          object: 'model_permission',
          created,
          allow_create_engine: false,
          allow_sampling: true,
          allow_logprobs: true,
          allow_search_indices: false,
          allow_view: true,
          allow_fine_tuning: false,
          organization: '*',
          group: null,
          is_blocking: false,
        },
      ],
    })),
  };
}
