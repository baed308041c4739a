// SGLang's server (checked against sgl-project/sglang main, 2026: entrypoints/http_server.py,
// utils/auth.py, managers/scheduler_components/flush_wrapper.py, managers/scheduler.py,
// entrypoints/openai/serving_base.py and usage_processor.py). What differs from the simulator's default:
// - POST|GET /flush_cache?timeout=<s>: with no timeout (or 0) it flushes only if nothing runs or
//   waits, else 400 "Flush cache failed.\n"; with a timeout it waits for the engine to go idle, then
//   flushes (200), or answers 400 "Timed out waiting for idle state." (one flush may wait at a time:
//   "Another flush_cache is already in progress.");
// - /open_session and /close_session (sglang-sessions.ts); no /reset_prefix_cache, no /v1/sessions/*;
// - --api-key protects every route but /health* and /metrics*; --admin-api-key protects the admin
//   routes (here /flush_cache) and is then the only key they accept: 401 {"error": "Unauthorized"};
// - usage.prompt_tokens_details only with --enable-cache-report and a cached count > 0, else null;
// - `priority` only with --enable-priority-scheduling (higher first, unless
//   --schedule-low-priority-values-first); otherwise ignored, or refused with 503 when
//   --abort-on-priority-when-disabled; /metrics (sglang:* names) only with --enable-metrics;
// - errors in SGLang's flat ErrorResponse {"object": "error", "message", "type", "param", "code"}.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine, GenerationRequest } from '../engine.js';
import { badRequest, SimulatorError } from '../errors.js';
import { sendError, sendJson, type Endpoint } from '../exchange.js';
import type { GenerationResult } from '../engine.js';
import type { UsageReport } from '../usage.js';
import type { Json, SamplingRequest } from '../validate.js';
import { fastapiNotFound, pythonJson, serveMetrics, SGLANG_FLUSH_TEXT } from './common.js';
import { StreamRejection, type Admission, type Personality, type RouteRequest } from './personality.js';
import { SglangMetrics } from './sglang-metrics.js';
import { OPEN_FAILED, SglangSessions } from './sglang-sessions.js';

export interface SglangOptions {
  /** --api-key: every route but /health* and /metrics* needs `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** --admin-api-key: the admin routes (/flush_cache) need this key, and only this one. */
  adminApiKey?: string;
  /** --enable-cache-report: usage.prompt_tokens_details.cached_tokens on the OpenAI routes. */
  enableCacheReport?: boolean;
  /** --enable-metrics: serve GET /metrics (sglang:* names). */
  enableMetrics?: boolean;
  /** --enable-priority-scheduling: honour `priority` (higher first by default). */
  enablePriorityScheduling?: boolean;
  /** --schedule-low-priority-values-first: lower `priority` values first. */
  scheduleLowPriorityValuesFirst?: boolean;
  /** --abort-on-priority-when-disabled: refuse (503) a `priority` when priority scheduling is off. */
  abortOnPriorityWhenDisabled?: boolean;
}

const FLUSH_FAILED = 'Flush cache failed.\n';
const FLUSH_TIMED_OUT = 'Timed out waiting for idle state.';
const FLUSH_BUSY = 'Another flush_cache is already in progress.';
const PRIORITY_DISABLED = 'Using priority is disabled for this server. Please send a new request without a priority.';
/** Requests without a priority when priority scheduling is on go last (SGLang sets ±sys.maxsize). */
const UNPRIORITIZED = -Number.MAX_SAFE_INTEGER;

export class SglangPersonality implements Personality {
  readonly name = 'sglang' as const;
  readonly usage: UsageReport;
  private readonly sessions: SglangSessions;
  private readonly metrics: SglangMetrics | null;
  private pendingFlush: { timer: NodeJS.Timeout; stopWaiting: () => void } | null = null;

  constructor(
    private readonly engine: Engine,
    modelName: string,
    private readonly options: SglangOptions,
  ) {
    this.sessions = new SglangSessions(engine);
    this.metrics = options.enableMetrics ? new SglangMetrics(engine, modelName, engine.cache.blockSize) : null;
    this.usage = sglangUsage(options.enableCacheReport ?? false);
  }

  /** utils/auth.py decide_request_auth; the simulator's admin routes are ADMIN_OPTIONAL, the rest NORMAL. */
  refuse(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const { apiKey, adminApiKey } = this.options;
    if (!apiKey && !adminApiKey) return false;
    if (req.method === 'OPTIONS' || path.startsWith('/health') || path.startsWith('/metrics')) return false;
    const key = path === '/flush_cache' ? adminApiKey || apiKey : apiKey;
    if (!key || bearer(req.headers.authorization) === key) return false;
    sendJson(res, 401, '{"error":"Unauthorized"}');
    return true;
  }

  route(request: RouteRequest): boolean {
    const { res, method, path } = request;
    const getOrPost = method === 'GET' || method === 'POST';
    if (path === '/metrics' && method === 'GET' && this.metrics) {
      const metrics = this.metrics;
      void serveMetrics(res, () => metrics.render(), metrics.contentType);
      return true;
    }
    if (path === '/flush_cache' && getOrPost) return this.flushCache(request), true;
    if (path === '/open_session' && getOrPost) return this.openSession(request), true;
    if (path === '/close_session' && getOrPost) return this.closeSession(request), true;
    return false;
  }

  notFound(res: ServerResponse): void {
    fastapiNotFound(res);
  }

  /** http_server.py available_models: ModelCard(id, root, max_model_len), owned_by "sglang". */
  modelList(models: readonly string[], maxModelLen: number): unknown {
    const created = Math.floor(Date.now() / 1000);
    return { object: 'list', data: models.map((id) => ({ id, object: 'model', created, owned_by: 'sglang', root: id, max_model_len: maxModelLen })) };
  }

  errorBody(error: SimulatorError, endpoint?: Endpoint): string {
    // /v1/responses answers in OpenAI's nested envelope; the other routes in SGLang's flat ErrorResponse.
    if (endpoint === 'responses') return JSON.stringify(error);
    return JSON.stringify({ object: 'error', message: error.message, type: error.type, param: error.param, code: error.status });
  }

  /** serving_chat: `yield f"data: {create_streaming_error_response(str(e))}\n\n"`, then `data: [DONE]`. */
  streamError(message: string): string {
    return `data: ${pythonJson({ error: { object: 'error', message, type: 'BadRequestError', param: null, code: 400 } })}\n\ndata: [DONE]\n\n`;
  }

  admit(body: Json, sampling: SamplingRequest): Admission {
    const sessionId = sessionOf(body);
    let pin: Admission['pin'];
    if (sessionId !== undefined) {
      pin = this.sessions.pinsOf(sessionId);
      if (!pin) throw new StreamRejection(badRequest(null, `Invalid request: session id ${sessionId} does not exist`));
    }
    const given = body.priority !== undefined && body.priority !== null;
    let priority = 0;
    if (this.options.enablePriorityScheduling) {
      priority = !given ? UNPRIORITIZED : this.options.scheduleLowPriorityValuesFirst ? -sampling.priority : sampling.priority;
    } else if (given && this.options.abortOnPriorityWhenDisabled) {
      throw new StreamRejection(new SimulatorError(503, PRIORITY_DISABLED));
    }
    return { priority, pin };
  }

  submit(engine: Engine, request: GenerationRequest) {
    return engine.submit(request);
  }

  close(): void {
    this.pendingFlush?.stopWaiting();
  }

  private flushCache({ res, query }: RouteRequest): void {
    const raw = query.get('timeout');
    const timeout = raw === null ? 0 : Number(raw);
    if (!Number.isFinite(timeout) || timeout < 0 || raw === '') {
      // FastAPI's Query(ge=0.0) check, answered 400 by SGLang's RequestValidationError handler.
      return this.reject(res, badRequest('timeout', `timeout: Input should be a number greater than or equal to 0, got ${JSON.stringify(raw)}`));
    }
    const answer = (ok: boolean, failure: string): void => {
      res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(ok ? SGLANG_FLUSH_TEXT : failure);
    };
    if (this.pendingFlush) return answer(false, FLUSH_BUSY);
    if (timeout <= 0 || this.engine.idle) return answer(this.flushNow(), FLUSH_FAILED);
    // flush_wrapper.py: defer until fully idle, or give up at the deadline.
    const stopWaiting = (): void => {
      clearTimeout(timer);
      unsubscribe();
      this.pendingFlush = null;
    };
    const unsubscribe = this.engine.onIdle(() => {
      stopWaiting();
      answer(this.flushNow(), FLUSH_FAILED);
    });
    const timer = setTimeout(() => {
      stopWaiting();
      answer(false, FLUSH_TIMED_OUT);
    }, timeout * 1000);
    this.pendingFlush = { timer, stopWaiting };
  }

  private reject(res: ServerResponse, error: SimulatorError): void {
    sendError(res, error, this.errorBody(error));
  }

  private flushNow(): boolean {
    if (!this.engine.idle) return false;
    this.sessions.unpinAll();
    return this.engine.flushCache();
  }

  private openSession(request: RouteRequest): void {
    request.readJson((body) => {
      const capacity = body.capacity_of_str_len;
      if (typeof capacity !== 'number' || !Number.isInteger(capacity)) {
        return this.reject(request.res, badRequest('capacity_of_str_len', 'capacity_of_str_len: Field required, an integer'));
      }
      const wanted = body.session_id;
      if (wanted !== undefined && wanted !== null && typeof wanted !== 'string') {
        return this.reject(request.res, badRequest('session_id', 'session_id: Input should be a valid string'));
      }
      const id = this.sessions.openSession(wanted ?? undefined);
      // http_server.py _create_error_response: {"error": {"message": str(e)}}, 400.
      if (id === null) return sendJson(request.res, 400, JSON.stringify({ error: { message: OPEN_FAILED } }));
      sendJson(request.res, 200, JSON.stringify(id));
    });
  }

  private closeSession(request: RouteRequest): void {
    request.readJson((body) => {
      const id = body.session_id;
      if (typeof id !== 'string') {
        return this.reject(request.res, badRequest('session_id', 'session_id: Field required, a string'));
      }
      this.sessions.closeSession(id);
      request.res.writeHead(200, { 'content-length': 0 }).end();
    });
  }
}

/** The session a request names: `session_params.id` (every version) or a top-level `session_id`. */
function sessionOf(body: Json): string | undefined {
  const params = body.session_params;
  if (params && typeof params === 'object' && !Array.isArray(params)) {
    const id = (params as Json).id;
    if (typeof id === 'string') return id;
  }
  return typeof body.session_id === 'string' ? body.session_id : undefined;
}

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  return header.slice(space + 1);
}

/** usage_processor.py: PromptTokensDetails only when --enable-cache-report and the count > 0; reasoning_tokens always. */
function sglangUsage(enableCacheReport: boolean): UsageReport {
  const counts = (r: GenerationResult): string => `"prompt_tokens":${r.promptTokens},"total_tokens":${r.promptTokens + r.completionTokens},"completion_tokens":${r.completionTokens}`;
  return {
    completionUsage(result) {
      const details = enableCacheReport && result.cachedTokens > 0 ? `{"cached_tokens":${result.cachedTokens}}` : 'null';
      return `{${counts(result)},"prompt_tokens_details":${details},"reasoning_tokens":0}`;
    },
    // The Responses server is built with enable_prompt_tokens_details=True (http_server.py lifespan).
    responsesCachedTokens: (result) => result.cachedTokens,
    extraFields: () => '',
  };
}
