import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './wait.js';

// A fake OpenAI-compatible engine that records what it receives, for asserting on exactly what the
// gateway forwards. Its answers are minimal but shaped like vLLM's.

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** Resolves when the client side of this request went away before the response finished. */
  aborted: Promise<void>;
}

export type Responder = (received: Received, res: ServerResponse) => void;

export interface RecordingEngine {
  url: string;
  received: Received[];
  /** Replace the default answer for the next requests. */
  respondWith(responder: Responder | undefined): void;
  close(): Promise<void>;
}

export const USAGE = { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, prompt_tokens_details: { cached_tokens: 4 } };

export function defaultAnswer(received: Received, res: ServerResponse): void {
  const model = received.body.model;
  if (received.url === '/v1/embeddings') {
    json(res, 200, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], model, usage: { prompt_tokens: 3, total_tokens: 3 } });
    return;
  }
  if (received.body.stream === true) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model };
    res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'Hello' } }] })}\n\n`);
    res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    const options = received.body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage) res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: USAGE })}\n\n`);
    res.end('data: [DONE]\n\n');
    return;
  }
  json(res, 200, {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
    usage: USAGE,
  });
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startRecordingEngine(): Promise<RecordingEngine> {
  const received: Received[] = [];
  let responder: Responder | undefined;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let onAbort!: () => void;
    const aborted = new Promise<void>((resolve) => (onAbort = resolve));
    res.on('close', () => {
      if (!res.writableFinished) onAbort();
    });
    const entry: Received = { method: req.method!, url: req.url!, headers: req.headers, body: text ? JSON.parse(text) : {}, aborted };
    received.push(entry);
    (responder ?? defaultAnswer)(entry, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    respondWith: (r) => (responder = r),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Holds every answer of `engine` until the test releases it, so requests pile up in the gateway's
 * queue exactly as the test builds it, and the engine's order of arrival is the dispatch order.
 */
export function holdAnswers(engine: RecordingEngine) {
  const held: [Received, ServerResponse][] = [];
  engine.respondWith((r, res) => held.push([r, res]));
  return {
    held,
    /** Answers the oldest held request, once one has arrived. */
    async answerNext(): Promise<void> {
      await until(() => held.length > 0, 'a request to reach the engine');
      const [r, res] = held.shift()!;
      defaultAnswer(r, res);
    },
  };
}
