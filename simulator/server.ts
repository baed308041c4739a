// The simulator's HTTP surface, on plain node:http rather than Hono: the simulator sits under every
// gateway benchmark and must never be what limits it, so no routing framework, no Request/Response
// objects, one string write per streamed token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Engine } from './engine.js';
import { badRequest, SimulatorError } from './errors.js';
import { sendError, sendJson, type Endpoint } from './exchange.js';
import { serveGeneration, type GenerationContext } from './generate.js';
import { SimulatorMetrics } from './metrics.js';
import type { Json } from './validate.js';

export interface SimulatorServerOptions {
  engine: Engine;
  /** Served model names; the first is the default and the metrics' model_name. */
  models: readonly string[];
  faults: boolean;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;
const SESSION_FLUSH = /^\/v1\/sessions\/([^/]+)\/flush$/;
// SGLang's exact text (python/sglang/srt/entrypoints/http_server.py), the same whether it flushed
// (200) or refused because requests were running or waiting (400).
const SGLANG_FLUSH_TEXT =
  'Cache flushed.\nPlease check backend logs for more details. (When there are running or waiting requests, the operation will not be performed.)\n';
/** Extra response header on /reset_prefix_cache: whether the reset happened (vLLM's body does not say). */
export const PREFIX_CACHE_RESET_HEADER = 'x-sim-prefix-cache-reset';

export function createSimulatorServer(options: SimulatorServerOptions): Server {
  const { engine, models } = options;
  const context: GenerationContext = { engine, models, faults: options.faults };
  const metrics = new SimulatorMetrics(engine, models[0]!);
  const modelList = JSON.stringify(modelCards(models, engine.profile.maxModelLen));

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const method = req.method ?? 'GET';
    if (path === '/v1/chat/completions' || path === '/v1/completions') {
      if (method !== 'POST') return methodNotAllowed(res);
      const endpoint: Endpoint = path === '/v1/chat/completions' ? 'chat' : 'completion';
      return readJson(req, res, (body) => serveGeneration(endpoint, context, req, res, body));
    }
    if (path === '/health' && method === 'GET') return void res.writeHead(200, { 'content-length': 0 }).end();
    if (path === '/v1/models' && method === 'GET') return sendJson(res, 200, modelList);
    if (path === '/metrics' && method === 'GET') {
      metrics.render().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
        },
        (error: unknown) => internalError(res, error),
      );
      return;
    }
    // SGLang's route accepts GET and POST.
    if (path === '/flush_cache' && (method === 'POST' || method === 'GET')) {
      const flushed = engine.flushCache();
      res.writeHead(flushed ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end(SGLANG_FLUSH_TEXT);
    }
    // vLLM (VLLM_SERVER_DEV_MODE=1) answers 200 with an empty body either way: its API server does
    // not check the result, and the engine only logs "Failed to reset prefix cache because some
    // blocks (N) are not freed yet" when running requests hold blocks.
    if (path === '/reset_prefix_cache' && method === 'POST') {
      const reset = engine.resetPrefixCache();
      return void res.writeHead(200, { 'content-length': 0, [PREFIX_CACHE_RESET_HEADER]: String(reset) }).end();
    }
    const session = SESSION_FLUSH.exec(path);
    if (session && method === 'POST') {
      let sessionId: string;
      try {
        sessionId = decodeURIComponent(session[1]!);
      } catch {
        return sendError(res, badRequest('session_id', 'the session id is not valid percent-encoding'));
      }
      const freedTokens = engine.flushSession(sessionId);
      return sendJson(res, 200, JSON.stringify({ session_id: sessionId, freed_tokens: freedTokens }));
    }
    // FastAPI's answer to an unknown route.
    sendJson(res, 404, '{"detail":"Not Found"}');
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    try {
      route(req, res);
    } catch (error) {
      internalError(res, error);
    }
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  // Longer than common client pools' idle timeouts, so a client never reuses a socket we are closing.
  server.keepAliveTimeout = 65_000;
  return server;
}

function methodNotAllowed(res: ServerResponse): void {
  sendJson(res, 405, '{"detail":"Method Not Allowed"}');
}

function internalError(res: ServerResponse, error: unknown): void {
  console.error('simulator: request failed', error);
  if (res.headersSent) return void res.destroy();
  sendError(res, new SimulatorError(500, 'internal simulator error'));
}

function readJson(req: IncomingMessage, res: ServerResponse, onBody: (body: Json) => void): void {
  const parts: Buffer[] = [];
  let size = 0;
  req.on('data', (part: Buffer) => {
    size += part.length;
    if (size <= MAX_BODY_BYTES) parts.push(part);
  });
  req.on('error', () => res.destroy());
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) return sendError(res, new SimulatorError(413, `the request body exceeds ${MAX_BODY_BYTES} bytes`));
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(parts, size).toString('utf8'));
    } catch {
      return sendError(res, badRequest(null, 'the request body is not valid JSON'));
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return sendError(res, badRequest(null, 'the request body must be a JSON object'));
    try {
      onBody(body as Json);
    } catch (error) {
      internalError(res, error);
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
