import { upstreamFailed, upstreamTimeout, type OrlaError } from '../../errors.js';
import { joinPath, type UpstreamClient, type UpstreamRequest, type UpstreamResponse, type UpstreamTimeouts } from './types.js';

class UpstreamTimeoutError extends Error {
  constructor(readonly phase: 'first byte' | 'idle') {
    super(`upstream ${phase} timeout`);
  }
}

/** The upstream for runtimes without undici (Workers, Deno, Bun): the platform's fetch. */
export class FetchUpstream implements UpstreamClient {
  private readonly base: URL;

  constructor(readonly url: string, private readonly timeouts: UpstreamTimeouts, private readonly fetchImpl: typeof fetch = fetch) {
    this.base = new URL(url);
  }

  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    // fetch has no connect/header timeouts of its own: one timer covers both.
    const timer = setTimeout(() => controller.abort(new UpstreamTimeoutError('first byte')), this.timeouts.firstByteMs);
    let response: Response;
    try {
      response = await this.fetchImpl(new URL(joinPath(this.base.pathname, request.path), this.base.origin), {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
      });
    } catch (err) {
      throw controller.signal.reason instanceof UpstreamTimeoutError ? controller.signal.reason : err;
    } finally {
      clearTimeout(timer);
    }
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => (headers[key] = value));
    const reader = response.body?.getReader();
    const idleMs = this.timeouts.idleMs;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (!reader) return;
      try {
        while (true) {
          let idle: ReturnType<typeof setTimeout> | undefined;
          const stalled = new Promise<never>((_, reject) => {
            idle = setTimeout(() => reject(new UpstreamTimeoutError('idle')), idleMs);
          });
          const next = await Promise.race([reader.read(), stalled]).finally(() => clearTimeout(idle));
          if (next.done) return;
          yield next.value;
        }
      } finally {
        request.signal?.removeEventListener('abort', onAbort);
        reader.cancel().catch(() => {});
      }
    }
    const body = chunks();
    const readAll = async () => {
      const parts: Uint8Array[] = [];
      for await (const part of body) parts.push(part);
      return new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer());
    };
    const cancel = () => {
      request.signal?.removeEventListener('abort', onAbort); // a body never read never runs the generator's finally
      void reader?.cancel().catch(() => {});
    };
    return { status: response.status, headers, body, readAll, cancel };
  }

  describeError(err: unknown, backend: string): OrlaError {
    if (err instanceof UpstreamTimeoutError) {
      return upstreamTimeout(
        err.phase === 'idle'
          ? `backend ${backend}: the engine stopped sending mid-response`
          : `backend ${backend}: the engine sent no response in time`,
      );
    }
    return upstreamFailed(`backend ${backend}: the request to the engine failed`);
  }

  async close(): Promise<void> {}
}
