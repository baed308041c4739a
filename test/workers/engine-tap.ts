import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

// What an engine sees, for asserting on it: an HTTP tap in front of a simulated engine that records
// each request (its path, headers and body), how many were in flight at once, and which ones the
// gateway abandoned before their response ended. It passes everything through unchanged, except that
// a request with `x-tap-split: 1` gets each piece of its answer in two writes, a moment apart, as a
// network may cut an SSE event in two. A test may hold the answers to some requests, as a busy engine
// would, until it lets them go.

export interface Tapped {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** Set when the gateway closed the connection before the response ended. */
  aborted: boolean;
  /** Set when the response ended. */
  finished: boolean;
}

export interface EngineTap {
  url: string;
  requests: Tapped[];
  /** Requests to the completion routes in flight now, and the most there ever were at once. */
  inFlight: number;
  peakInFlight: number;
  /** Requests whose body contains `marker` get no answer until the returned function is called (an engine busy for as long as a test needs). */
  hold(marker: string): () => void;
  close(): Promise<void>;
}

/** The routes a client's call reaches (not memory's cache calls). */
const COMPLETIONS = /^\/v1\/(chat\/completions|completions|responses|embeddings)(\?|$)/;

export async function startTap(target: string): Promise<EngineTap> {
  const to = new URL(target);
  const held = new Map<string, Promise<void>>();
  const tap: EngineTap = {
    url: '',
    requests: [],
    inFlight: 0,
    peakInFlight: 0,
    hold(marker) {
      let release!: () => void;
      held.set(marker, new Promise<void>((resolve) => (release = resolve)));
      return () => {
        held.delete(marker);
        release();
      };
    },
    close: async () => {},
  };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const entry: Tapped = { path: req.url!, headers: req.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, aborted: false, finished: false };
    tap.requests.push(entry);
    const counted = COMPLETIONS.test(req.url!);
    if (counted) tap.peakInFlight = Math.max(tap.peakInFlight, ++tap.inFlight);
    let done = false;
    const finish = (aborted: boolean) => {
      if (done) return;
      done = true;
      entry.aborted = aborted;
      entry.finished = !aborted;
      if (counted) tap.inFlight--;
    };
    const hold = [...held].find(([marker]) => text.includes(marker))?.[1];
    if (hold) await hold;
    const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: { ...req.headers, host: to.host } }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      if (req.headers['x-tap-split'] !== '1') {
        answer.pipe(res);
        answer.on('end', () => finish(false));
        return;
      }
      void (async () => {
        for await (const piece of answer as AsyncIterable<Buffer>) {
          const half = Math.ceil(piece.length / 2);
          res.write(piece.subarray(0, half));
          await new Promise((resolve) => setTimeout(resolve, 30));
          res.write(piece.subarray(half));
        }
        res.end();
        finish(false);
      })().catch(() => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) {
        finish(true);
        upstream.destroy();
      }
    });
    upstream.end(chunks.length ? Buffer.concat(chunks) : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tap.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tap.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return tap;
}
