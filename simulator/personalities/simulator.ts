// The simulator as itself (the default): vLLM's wire format and metrics, cached_tokens always
// reported, and every cache control at once (SGLang's /flush_cache, vLLM's /reset_prefix_cache and
// a per-session flush), so the gateway's embedded default can exercise them all.
import type { ServerResponse } from 'node:http';
import type { Engine, GenerationRequest } from '../engine.js';
import { badRequest, type SimulatorError } from '../errors.js';
import { sendError, sendJson } from '../exchange.js';
import { SimulatorMetrics } from '../metrics.js';
import { ALWAYS_CACHED } from '../usage.js';
import type { Json, SamplingRequest } from '../validate.js';
import { fastapiNotFound, resetPrefixCache, serveMetrics, SGLANG_FLUSH_TEXT, vllmErrorBody, vllmStreamError } from './common.js';
import type { Admission, Personality, RouteRequest } from './personality.js';

const SESSION_FLUSH = /^\/v1\/sessions\/([^/]+)\/flush$/;

export class SimulatorPersonality implements Personality {
  readonly name = 'simulator' as const;
  readonly usage = ALWAYS_CACHED;
  private readonly metrics: SimulatorMetrics;

  constructor(private readonly engine: Engine, modelName: string) {
    this.metrics = new SimulatorMetrics(engine, modelName);
  }

  refuse(): boolean {
    return false;
  }

  route({ res, method, path }: RouteRequest): boolean {
    if (path === '/metrics' && method === 'GET') {
      void serveMetrics(res, () => this.metrics.render(), this.metrics.contentType);
      return true;
    }
    // SGLang's route accepts GET and POST.
    if (path === '/flush_cache' && (method === 'POST' || method === 'GET')) {
      const flushed = this.engine.flushCache();
      res.writeHead(flushed ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(SGLANG_FLUSH_TEXT);
      return true;
    }
    if (path === '/reset_prefix_cache' && method === 'POST') {
      resetPrefixCache(this.engine, res);
      return true;
    }
    const session = SESSION_FLUSH.exec(path);
    if (session && method === 'POST') {
      let sessionId: string;
      try {
        sessionId = decodeURIComponent(session[1]!);
      } catch {
        sendError(res, badRequest('session_id', 'the session id is not valid percent-encoding'));
        return true;
      }
      const freedTokens = this.engine.flushSession(sessionId);
      sendJson(res, 200, JSON.stringify({ session_id: sessionId, freed_tokens: freedTokens }));
      return true;
    }
    return false;
  }

  notFound(res: ServerResponse): void {
    fastapiNotFound(res);
  }

  errorBody(error: SimulatorError): string {
    return vllmErrorBody(error);
  }

  streamError(message: string): string {
    return vllmStreamError(message);
  }

  admit(_body: Json, sampling: SamplingRequest): Admission {
    return { priority: sampling.priority };
  }

  submit(engine: Engine, request: GenerationRequest) {
    return engine.submit(request);
  }
}
