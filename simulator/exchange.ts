// One request's response: a JSON body once generation is done, or SSE events written as the engine
// emits tokens; and the fault it was asked to suffer, if any. What the events say is the wire
// format's business (chat, text completion, Responses API); this class only moves them.
import type { ServerResponse } from 'node:http';
import type { GenerationHandle, GenerationResult } from './engine.js';
import type { SimulatorError } from './errors.js';
import type { Fault } from './faults.js';

export type Endpoint = 'chat' | 'completion' | 'responses';

/** What one endpoint writes, event by event. Every method is called at most once per token. */
export interface WireFormat {
  /** Events written with the headers, before any token (the Responses API's response.created). */
  preamble(): string | null;
  /** Events written when the first token is out (chat's role chunk). */
  opening(): string | null;
  /** The events of output token `index`, or null when it shows nothing (tool-call markup). */
  token(index: number): string | null;
  /** What ends a stream that completed (usage chunk, final events, `data: [DONE]`). */
  closing(result: GenerationResult): string;
  /** The non-streaming JSON body. */
  body(result: GenerationResult): string;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };

export function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** vLLM's error envelope; a personality with another shape passes its own body. */
export function sendError(res: ServerResponse, error: SimulatorError, body = JSON.stringify(error)): void {
  sendJson(res, error.status, body);
}

/** Opens a 200 event stream (as Starlette's StreamingResponse does: headers at once). */
export function openStream(res: ServerResponse): void {
  res.writeHead(200, SSE_HEADERS);
  res.flushHeaders();
}

/** The response side of one generation request. */
export class Exchange {
  handle: GenerationHandle | null = null;
  private contentChunks = 0;
  /** Output stopped for good (a stall or cut fault, or the client left). */
  private silenced = false;
  private corked = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly res: ServerResponse,
    private readonly format: WireFormat,
    private readonly stream: boolean,
    private readonly fault: Fault | null,
    /** The engine's mid-stream error event and what it writes after it (the error-after fault). */
    private readonly streamError: () => string,
    private readonly malformedChunk: string,
  ) {}

  start(): void {
    // A client that leaves aborts its request in the engine (queued or running), freeing its blocks.
    this.res.once('close', () => {
      if (this.res.writableFinished) return;
      this.silenced = true;
      this.handle?.abort();
    });
    if (!this.stream) return;
    openStream(this.res);
    const preamble = this.format.preamble();
    if (preamble) this.write(preamble);
  }

  firstToken(): void {
    if (!this.stream) return;
    const opening = this.format.opening();
    if (opening) this.write(opening);
  }

  token(index: number): void {
    if (!this.stream) {
      if (this.fault?.kind === 'cut-after' && index + 1 >= this.fault.chunks) this.cut();
      return;
    }
    if (this.silenced) return;
    const fault = this.fault;
    // Before the format builds this token's events: they would take sequence numbers the error event needs.
    if (fault?.kind === 'error-after' && this.contentChunks >= fault.chunks) return this.failMidStream();
    const chunk = this.format.token(index);
    if (chunk === null) return;
    if ((fault?.kind === 'stall-after' || fault?.kind === 'cut-after') && this.contentChunks >= fault.chunks) {
      if (fault.kind === 'cut-after') this.cut();
      this.silenced = true; // stall: the connection stays open, nothing more is sent
      return;
    }
    this.write(chunk);
    this.contentChunks++;
    if (fault?.kind === 'malformed-sse' && this.contentChunks === 1) this.write(this.malformedChunk);
  }

  done(result: GenerationResult): void {
    if (result.finishReason === 'abort') {
      // Aborted by the engine shutting down (a client that left, a cut or a stall already silenced it).
      if (!this.silenced && !this.res.destroyed) this.res.destroy();
      return;
    }
    if (this.silenced || this.res.destroyed) return;
    if (this.fault?.kind === 'stall-after' && !this.stream) {
      this.silenced = true; // a non-streaming stall: the body never comes
      return;
    }
    if (this.stream) {
      // error-after past the last chunk: the engine fails as the stream would have ended.
      if (this.fault?.kind === 'error-after') return this.failMidStream();
      this.write(this.format.closing(result));
      this.flush();
      this.res.end();
      return;
    }
    const body = this.format.body(result);
    if (this.fault?.kind === 'malformed-sse') return sendJson(this.res, 200, body.slice(0, Math.floor(body.length / 2)));
    sendJson(this.res, 200, body);
  }

  private write(chunk: string): void {
    if (this.res.destroyed) return;
    // Chunks written during one engine step (or one burst of instant steps) leave in one writev,
    // flushed as soon as the step's callbacks return: no added latency, far fewer syscalls.
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(this.flushBound);
    }
    this.res.write(chunk);
  }

  /**
   * Sends what the cork holds now. Node 22 and later no longer flush a corked response's body on
   * `end()` (or before `destroySoon()`): ending while corked lost every chunk of the step.
   */
  private flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.res.uncork();
  }

  /** The engine's error event inside the 200 stream, then the response ends; the request is aborted. */
  private failMidStream(): void {
    this.silenced = true;
    this.write(this.streamError());
    this.flush();
    this.res.end();
    this.handle?.abort();
  }

  private cut(): void {
    this.silenced = true;
    this.flush();
    // destroySoon: the chunks already written reach the client first, then the connection drops
    // (no terminating chunk, so the client sees a broken response).
    const socket = this.res.socket;
    if (socket) socket.destroySoon();
    else this.res.destroy();
    this.handle?.abort();
  }
}
