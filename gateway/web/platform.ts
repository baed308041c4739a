import type { Context } from 'hono';
import { payloadTooLarge } from '../../errors.js';
import type { HeaderValues, Platform, ResponseHead } from '../platform.js';

const toHeaders = (head: ResponseHead) => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(head.headers)) {
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
};

/** Web-standard runtimes (Workers, Deno, Bun): Request in, Response out. */
export const webPlatform: Platform = {
  requestHeaders(c) {
    const headers: HeaderValues = {};
    c.req.raw.headers.forEach((value, name) => (headers[name] = value));
    return headers;
  },

  async readBody(c, limitBytes) {
    if (Number(c.req.header('content-length')) > limitBytes) throw payloadTooLarge(limitBytes);
    const body = await c.req.raw.arrayBuffer();
    if (body.byteLength > limitBytes) throw payloadTooLarge(limitBytes);
    return new TextDecoder().decode(body);
  },

  send: (_c, head, body) => new Response(body as BodyInit, { status: head.status, headers: toHeaders(head) }),

  async stream(_c, head, chunks) {
    const iterator = chunks[Symbol.asyncIterator]();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await iterator.return?.();
      },
    });
    return new Response(body, { status: head.status, headers: toHeaders(head) });
  },
};
