// One request's response: a JSON body once generation is done, or SSE chunks written as the engine
// emits tokens; and the fault it was asked to suffer, if any.
import type { ServerResponse } from 'node:http';
import type { GenerationHandle, GenerationResult } from './engine.js';
import type { SimulatorError } from './errors.js';
import type { Fault } from './faults.js';
import type { OutputPlan } from './output.js';
import { ChatChunks, chatCompletionBody, CompletionChunks, completionBody, SSE_DONE, type ResponseIdentity } from './wire.js';

export type Endpoint = 'chat' | 'completion';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };

export function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendError(res: ServerResponse, error: SimulatorError): void {
  sendJson(res, error.status, JSON.stringify(error));
}

/** The response side of one generation request. */
export class Exchange {
  handle: GenerationHandle | null = null;
  private readonly chunks: ChatChunks | CompletionChunks;
  private contentChunks = 0;
  /** Output stopped for good (a stall or cut fault, or the client left). */
  private silenced = false;
  private corked = false;
  private readonly flushBound = (): void => this.flush();

  constructor(
    private readonly endpoint: Endpoint,
    private readonly res: ServerResponse,
    private readonly identity: ResponseIdentity,
    private readonly plan: OutputPlan,
    private readonly stream: boolean,
    private readonly includeUsage: boolean,
    private readonly fault: Fault | null,
  ) {
    this.chunks = endpoint === 'chat' ? new ChatChunks(identity, plan) : new CompletionChunks(identity, plan);
  }

  start(): void {
    // A client that leaves aborts its request in the engine (queued or running), freeing its blocks.
    this.res.once('close', () => {
      if (this.res.writableFinished) return;
      this.silenced = true;
      this.handle?.abort();
    });
    if (this.stream) {
      // Headers go out at once (as Starlette's StreamingResponse does); the body starts at the first token.
      this.res.writeHead(200, SSE_HEADERS);
      this.res.flushHeaders();
    }
  }

  firstToken(): void {
    if (this.stream && this.chunks instanceof ChatChunks) this.write(this.chunks.role());
  }

  token(index: number): void {
    if (!this.stream) {
      if (this.fault?.kind === 'cut-after' && index + 1 >= this.fault.chunks) this.cut();
      return;
    }
    const chunk = this.chunks.token(index);
    if (chunk === null || this.silenced) return;
    const fault = this.fault;
    if ((fault?.kind === 'stall-after' || fault?.kind === 'cut-after') && this.contentChunks >= fault.chunks) {
      if (fault.kind === 'cut-after') this.cut();
      this.silenced = true; // stall: the connection stays open, nothing more is sent
      return;
    }
    this.write(chunk);
    this.contentChunks++;
    if (fault?.kind === 'malformed-sse' && this.contentChunks === 1) this.write(`data: {"id":"${this.identity.id}","object":"chat.completion.chunk","choices":[{"delta":{"content":"\n\n`);
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
      if (this.includeUsage) this.write(this.chunks.usage(result));
      this.flush();
      this.res.end(SSE_DONE);
      return;
    }
    const body = this.endpoint === 'chat' ? chatCompletionBody(this.identity, this.plan, result) : completionBody(this.identity, this.plan, result);
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
