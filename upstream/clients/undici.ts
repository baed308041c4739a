import { Pool } from 'undici';
import { upstreamFailed, upstreamTimeout, type OrlaError } from '../../errors.js';
import { joinPath, type UpstreamClient, type UpstreamRequest, type UpstreamResponse, type UpstreamTimeouts } from './types.js';

/** Node's upstream: one keep-alive undici Pool per replica URL. */
export class UndiciUpstream implements UpstreamClient {
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(readonly url: string, timeouts: UpstreamTimeouts) {
    const parsed = new URL(url);
    this.basePath = parsed.pathname;
    this.pool = new Pool(parsed.origin, {
      connectTimeout: timeouts.connectMs,
      headersTimeout: timeouts.firstByteMs,
      bodyTimeout: timeouts.idleMs,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
  }

  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const response = await this.pool.request({
      method: request.method,
      path: joinPath(this.basePath, request.path),
      headers: request.headers,
      // As bytes: undici keeps the body it is given until the response ends, and a string it also
      // copies to bytes. A stream then holds one copy of its request, not two (and none in the JS heap).
      body: request.body === undefined ? undefined : Buffer.from(request.body),
      signal: request.signal,
    });
    const body = response.body;
    return {
      status: response.statusCode,
      headers: response.headers,
      body,
      readAll: async () => new Uint8Array(await body.arrayBuffer()),
      // dump() reads a short remainder so the connection can be reused, and never emits an unhandled error.
      cancel: () => void body.dump({ limit: 64 * 1024 }).catch(() => {}),
    };
  }

  describeError(err: unknown, backend: string): OrlaError {
    const code = (err as { code?: string } | null)?.code ?? '';
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return upstreamTimeout(`backend ${backend}: connecting to the engine timed out`);
      case 'UND_ERR_HEADERS_TIMEOUT':
        return upstreamTimeout(`backend ${backend}: the engine sent no response in time`);
      case 'UND_ERR_BODY_TIMEOUT':
        return upstreamTimeout(`backend ${backend}: the engine stopped sending mid-response`);
      case 'ECONNREFUSED':
        return upstreamFailed(`backend ${backend}: the engine refused the connection`);
      case 'ECONNRESET':
      case 'UND_ERR_SOCKET':
      case 'EPIPE':
        return upstreamFailed(`backend ${backend}: the engine closed the connection`);
      default:
        return upstreamFailed(`backend ${backend}: the request to the engine failed${code ? ` (${code})` : ''}`);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
