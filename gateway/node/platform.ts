import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { clientClosed, payloadTooLarge } from '../../errors.js';
import { ClientGone } from '../../cancel.js';
import type { Platform } from '../platform.js';

const HEAD_ALONE_AFTER_MS = 20;

/** One request on Node: what node:http hands over (and, through Hono, what @hono/node-server puts in `c.env`). */
export interface NodeRequest {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
  gone?: ClientGone;
}

/**
 * Node's fast path: the body is read from and written to the node:http objects directly. A Hono
 * Response built on a web ReadableStream costs about 3x the CPU per stream, and `Readable.toWeb`
 * crashes on client aborts under Node 20 (nodejs/node#54205).
 */
export const nodePlatform: Platform<NodeRequest> = {
  fromContext: (c: Context) => c.env as NodeRequest,

  requestHeaders: (req) => req.incoming.headers,

  clientGone(req) {
    if (!req.gone) {
      const gone = (req.gone = new ClientGone());
      const { outgoing } = req;
      outgoing.on('close', () => {
        if (!outgoing.writableFinished) gone.abort();
      });
    }
    return req.gone;
  },

  async readBody({ incoming }, limitBytes) {
    const declared = Number(incoming.headers['content-length']);
    if (declared > limitBytes) throw payloadTooLarge(limitBytes);
    // Stream events, not an async iterator: the iterator costs more than the rest of the read.
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limitBytes) chunks.push(chunk);
        else {
          incoming.off('data', onData);
          incoming.resume(); // drain the rest so the connection stays usable
          reject(payloadTooLarge(limitBytes));
        }
      };
      const onClose = () => {
        if (!incoming.complete) reject(clientClosed()); // the client left mid-body
      };
      // Read, the listeners go: left on, they (and the chunks) would live as long as the response.
      const onEnd = () => {
        incoming.off('data', onData).off('end', onEnd).off('error', reject).off('close', onClose);
        resolve((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8'));
      };
      incoming.on('data', onData).on('end', onEnd).on('error', reject).on('close', onClose);
    });
  },

  send({ outgoing, gone }, head, body) {
    if (gone?.aborted) outgoing.destroy(); // the client is gone: its connection is of no more use
    else if (!outgoing.destroyed) {
      head.headers['content-length'] = String(Buffer.byteLength(body));
      outgoing.writeHead(head.status, head.headers);
      outgoing.end(body);
    }
    return RESPONSE_ALREADY_SENT;
  },

  stream(req, head, body, relay) {
    const { outgoing } = req;
    outgoing.writeHead(head.status, head.headers);
    // The head normally leaves with the first chunk (one write, not two); if the engine is slow to
    // send one (queueing, a long prefill), it leaves on its own so the client learns the status.
    let flushLater: ReturnType<typeof setTimeout> | undefined = setTimeout(() => outgoing.flushHeaders(), HEAD_ALONE_AFTER_MS);
    // undici's body is a Node Readable: its events cost no promise per chunk.
    const source = body as Readable;
    return new Promise<Response>((resolve) => {
      const done = () => {
        clearTimeout(flushLater);
        outgoing.off('close', onClientClose);
        resolve(RESPONSE_ALREADY_SENT);
      };
      const onClientClose = () => {
        if (!outgoing.writableFinished) source.destroy(); // stop reading; the signal aborts the request
      };
      outgoing.on('close', onClientClose);
      // Whatever has arrived is read at once (`read()` returns the whole buffer) and written as one
      // chunk: one write per engine chunk costs a fifth more CPU per stream than this.
      let draining = false;
      const pump = () => {
        if (draining) return;
        for (let chunk: Buffer | null = source.read(); chunk !== null; chunk = source.read()) {
          if (flushLater) {
            clearTimeout(flushLater);
            flushLater = undefined;
          }
          const out = relay.push(chunk);
          if (out && !outgoing.write(out)) {
            draining = true;
            outgoing.once('drain', () => {
              draining = false;
              pump();
            });
            return;
          }
        }
      };
      // on(), not once(): 'end' and 'error' each come at most once, and once() wraps each listener.
      source.on('readable', pump);
      source.on('end', () => {
        const rest = relay.end();
        if (req.gone?.aborted) outgoing.destroy();
        else outgoing.end(rest);
        done();
      });
      source.on('error', (err) => {
        const tail = relay.fail(err);
        if (tail && !outgoing.destroyed) outgoing.end(tail);
        else outgoing.destroy();
        done();
      });
    });
  },
};
