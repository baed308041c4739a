import type { Context } from 'hono';
import { payloadTooLarge } from '../../errors.js';
import { ClientGone } from '../../cancel.js';
import type { HeaderValues, Platform, ResponseHead } from '../platform.js';

const toHeaders = (head: ResponseHead) => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(head.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
};

/** Each request's headers as a record, made once (the request-id middleware and the route both read them). */
const headersOf = new WeakMap<Context, HeaderValues>();
/** Each request's ClientGone, so that a cancelled response body counts as the client leaving. */
const goneOf = new WeakMap<Context, ClientGone>();

/** Web-standard runtimes (Workers, Deno, Bun): Request in, Response out. */
export const webPlatform: Platform<Context> = {
  fromContext: (c) => c,

  requestHeaders(c) {
    let headers = headersOf.get(c);
    if (!headers) {
      headersOf.set(c, (headers = {}));
      c.req.raw.headers.forEach((value, name) => (headers![name] = value));
    }
    return headers;
  },

  clientGone(c) {
    const gone = new ClientGone();
    goneOf.set(c, gone);
    const signal = c.req.raw.signal;
    if (signal.aborted) gone.abort();
    else signal.addEventListener('abort', () => gone.abort(), { once: true });
    return gone;
  },

  async readBody(c, limitBytes) {
    if (Number(c.req.header('content-length')) > limitBytes) throw payloadTooLarge(limitBytes);
    const body = await c.req.raw.arrayBuffer();
    if (body.byteLength > limitBytes) throw payloadTooLarge(limitBytes);
    return new TextDecoder().decode(body);
  },

  send: (_c, head, body) => new Response(body as BodyInit, { status: head.status, headers: toHeaders(head) }),

  async stream(c, head, upstream, relay) {
    const iterator = upstream[Symbol.asyncIterator]();
    const body = new ReadableStream<Uint8Array>({
      // A pull that enqueues nothing is not called again (the stream waits for a chunk it will
      // never get): read on until there is something for the client, or the end.
      async pull(controller) {
        try {
          for (;;) {
            const next = await iterator.next();
            const out = next.done ? relay.end() : relay.push(next.value);
            if (out) controller.enqueue(out);
            if (next.done) return controller.close();
            if (out) return;
          }
        } catch (err) {
          const tail = relay.fail(err);
          if (tail) controller.enqueue(tail);
          controller.close();
        }
      },
      async cancel(reason) {
        goneOf.get(c)?.abort(); // the client stopped reading: it left, the engine is not to blame
        relay.fail(reason);
        await iterator.return?.();
      },
    });
    return new Response(body, { status: head.status, headers: toHeaders(head) });
  },
};
