import { Buffer } from 'node:buffer';
import type { OrlaError } from '../errors.js';
import { STREAM_ERROR_MARKS } from './engine-error.js';
import { usageOfJson, type Usage } from './usage.js';

// Relays an engine's SSE stream to the client as it arrives, reading the usage, tool calls and any
// error event on the way. It is a synchronous transform: the platform moves the bytes (Node with
// stream events, no promise per chunk). Chunks are forwarded at event boundaries: engines write one
// event per chunk, so nothing waits, and an event is never cut in two (which would make a later error
// event unparsable). Its work is linear in the bytes relayed: each byte is scanned for a boundary
// once, also when one huge event arrives in many chunks.

const USAGE_KEY = Buffer.from('"usage":');
const USAGE_OBJECT = Buffer.from('"usage":{');
/**
 * A completion that called tools: its finish reason says so, or (a forced `tool_choice`, where vLLM
 * and OpenAI finish with "stop") its message or last delta carries a non-empty `tool_calls`; on the
 * Responses API, an output item of type `function_call`.
 */
export const TOOL_CALL_MARKS = ['"finish_reason":"tool_calls"', '"tool_calls":[{', '"type":"function_call"'] as const;
/** TOOL_CALL_MARKS with the spaces a pretty-printing API (OpenAI's) puts in them. */
const TOOL_CALLS_SPACED = /"finish_reason"\s*:\s*"tool_calls"|"tool_calls"\s*:\s*\[\s*\{|"type"\s*:\s*"function_call"/;
/** Whether a whole (non-streamed) response called tools. */
export const calledTools = (json: string): boolean => TOOL_CALLS_SPACED.test(json);
const CHAT_TOOL_CALLS = TOOL_CALL_MARKS.slice(0, 2).map((mark) => Buffer.from(mark));
const FUNCTION_CALL = Buffer.from(TOOL_CALL_MARKS[2]);
const CHAT_ERROR = Buffer.from(STREAM_ERROR_MARKS[0]);
const RESPONSES_ERRORS = STREAM_ERROR_MARKS.map((mark) => Buffer.from(mark));
const EVENT_END = Buffer.from('\n\n');
/** A usage-only chunk (OpenAI's `stream_options.include_usage` form): no choices. */
const USAGE_ONLY = /"choices"\s*:\s*\[\s*\]/;
const LF = 10;
/** The longest event boundary is `\r\n\r\n`: a boundary split across chunks starts in the carry's last 3 bytes. */
const BOUNDARY_OVERLAP = 3;

/** What a platform drives while streaming a response body. */
export interface StreamRelay {
  /** The bytes to send now for an upstream chunk (none while an event is incomplete). */
  push(chunk: Uint8Array): Uint8Array | undefined;
  /** The upstream body ended: the bytes still held. */
  end(): Uint8Array | undefined;
  /** Reading the upstream body failed: the error event to send, or none if the client has gone. */
  fail(err: unknown): Uint8Array | undefined;
}

export interface RelayOptions {
  /** Drop the usage-only chunk (`choices: []`): Orla asked for it, the client did not. */
  stripUsageChunk: boolean;
  /** The Responses API's events (a `response.completed` with the usage, `function_call` items), not chat chunks. */
  responses?: boolean;
  /** Called once, before the first chunk goes out. */
  onFirstChunk(): void;
  /** Called once when the stream ends for any reason, just after the last bytes are handed over. */
  onEnd(outcome: RelayOutcome): void;
  /** Called at once when the outcome is known, before the platform writes the last bytes. */
  beforeLastBytes?(outcome: RelayOutcome): void;
  /** Turns a failure while reading the engine's body into the error the client sees. */
  describeError(err: unknown): OrlaError;
  /** Turns an error event the engine wrote into the stream into the error the call failed with. */
  describeStreamError(event: string): OrlaError;
  /** Whether the client has gone (then a failure is not reported to it). */
  clientGone(): boolean;
}

export interface RelayOutcome {
  usage: Usage | undefined;
  /** The stream finished with tool calls: the agent is now running a tool. */
  toolCalls: boolean;
  /** Reading the stream failed, or the engine wrote an error event into it (relayed as it was). */
  error: OrlaError | undefined;
  clientGone: boolean;
}

export class SseRelay implements StreamRelay {
  /** The start of an incomplete event, in the pieces it arrived in. */
  private carry: Buffer[] = [];
  private carried = 0;
  private started = false;
  private ended = false;
  private usage: Usage | undefined;
  private toolCalls = false;
  private engineError: OrlaError | undefined;
  /**
   * The last three batches of events: the finish chunk is among the last two (then maybe usage, then
   * [DONE]); an engine's error event among the three (SGLang: the error, the usage, then [DONE]).
   */
  private last: Buffer | undefined;
  private beforeLast: Buffer | undefined;
  private thirdLast: Buffer | undefined;

  constructor(private readonly options: RelayOptions) {}

  push(chunk: Uint8Array): Uint8Array | undefined {
    const events = this.completeEvents(asBuffer(chunk));
    if (!events) return undefined;
    if (!this.started) {
      this.started = true;
      this.options.onFirstChunk();
    }
    if (this.options.responses) return this.inspectResponses(events);
    this.thirdLast = this.beforeLast;
    this.beforeLast = this.last;
    this.last = events;
    return hasUsage(events) ? this.takeUsage(events) : events;
  }

  end(): Uint8Array | undefined {
    this.finish(undefined);
    return this.carried === 0 ? undefined : Buffer.concat(this.carry, this.carried);
  }

  fail(err: unknown): Uint8Array | undefined {
    if (this.options.clientGone()) {
      this.finish(undefined);
      return undefined;
    }
    // After the first byte the status is sent: report the failure as an SSE error event (the OpenAI
    // clients raise it) and end the stream. Never a fake [DONE], never a silent truncation.
    const error = this.options.describeError(err);
    this.finish(error);
    return Buffer.from(`data: ${error.body()}\n\n`);
  }

  /** The carry and the chunk up to its last event boundary; undefined while no event is complete. */
  private completeEvents(chunk: Buffer): Buffer | undefined {
    if (this.carried === 0) {
      const end = eventsEnd(chunk);
      if (end < chunk.length) this.hold(chunk.subarray(end));
      return end === 0 ? undefined : end === chunk.length ? chunk : chunk.subarray(0, end);
    }
    const overlap = Math.min(BOUNDARY_OVERLAP, this.carried);
    const end = eventsEnd(Buffer.concat([this.carryTail(overlap), chunk])) - overlap;
    if (end <= 0) {
      this.hold(chunk);
      return undefined;
    }
    const events = Buffer.concat([...this.carry, chunk.subarray(0, end)], this.carried + end);
    this.carry = [];
    this.carried = 0;
    if (end < chunk.length) this.hold(chunk.subarray(end));
    return events;
  }

  private hold(piece: Buffer): void {
    this.carry.push(piece);
    this.carried += piece.length;
  }

  /** The carry's last `n` bytes. */
  private carryTail(n: number): Buffer {
    const parts: Buffer[] = [];
    for (let i = this.carry.length - 1, need = n; need > 0; i--) {
      const piece = this.carry[i]!;
      parts.unshift(piece.subarray(Math.max(0, piece.length - need)));
      need -= piece.length;
    }
    return Buffer.concat(parts, n);
  }

  /** The Responses API: a `function_call` item anywhere, the usage in `response.completed`. */
  private inspectResponses(events: Buffer): Buffer {
    if (!this.engineError) for (const mark of RESPONSES_ERRORS) if (events.includes(mark)) this.readError(events, mark);
    if (!this.toolCalls && events.includes(FUNCTION_CALL)) this.toolCalls = true;
    if (events.includes(USAGE_OBJECT)) this.usage = usageOfJson(eventAround(events, events.lastIndexOf(USAGE_OBJECT))) ?? this.usage;
    return events;
  }

  private readError(events: Buffer, mark: Buffer): void {
    this.engineError = this.options.describeStreamError(eventAround(events, events.indexOf(mark)));
  }

  /**
   * An error event among the stream's last three events: an engine ends a failed stream with it
   * (vLLM then writes [DONE], SGLang the usage chunk and [DONE]). Only those events are read, from
   * the end: a search of every chunk cost 8 µs a stream, of whole batches 4.
   */
  private closingErrorEvent(): string | undefined {
    let left = 3;
    for (let i = 0; i < 3 && left > 0; i++) {
      const batch = i === 0 ? this.last : i === 1 ? this.beforeLast : this.thirdLast;
      // A batch holds whole events; walk them back from its end.
      for (let end = batch?.length ?? 0; end > 0 && left > 0; left--) {
        const boundary = batch!.lastIndexOf(EVENT_END, end - 3);
        const start = boundary < 0 ? 0 : boundary + 2;
        if (isErrorEvent(batch!, start)) return batch!.toString('utf8', start, end);
        end = start;
      }
    }
    return undefined;
  }

  private finish(error: OrlaError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    // The finish reason and the last tool-call delta are in the last events: only the tail is searched.
    const toolCalls = this.toolCalls || endsInToolCalls(this.beforeLast) || endsInToolCalls(this.last);
    if (!this.options.responses) {
      const event = this.closingErrorEvent();
      if (event !== undefined) this.engineError = this.options.describeStreamError(event);
    }
    const outcome = { usage: this.usage, toolCalls, error: this.engineError ?? error, clientGone: this.options.clientGone() };
    this.options.beforeLastBytes?.(outcome);
    // Accounted once the caller has written the last bytes: the bookkeeping is off the client's path.
    queueMicrotask(() => this.options.onEnd(outcome));
  }

  /**
   * Records the usage of the event that carries it, dropping it when it is a usage-only chunk the
   * client did not ask for. Only that event is parsed; the events around it pass untouched.
   */
  private takeUsage(events: Buffer): Buffer {
    const at = events.lastIndexOf(USAGE_KEY); // usage is the last event's (hasUsage found it)
    const { start, end } = eventBounds(events, at);
    const event = events.toString('utf8', start, end);
    const usage = usageOfJson(event); // the usage object alone, not the whole event
    if (usage) this.usage = usage;
    if (!(this.options.stripUsageChunk && usage && USAGE_ONLY.test(event))) return events;
    if (start === 0) return events.subarray(end);
    return end === events.length ? events.subarray(0, start) : Buffer.concat([events.subarray(0, start), events.subarray(end)]);
  }
}

const asBuffer = (chunk: Uint8Array) => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));

const DATA = Buffer.from('data:');

/** Whether the event at `start` is `data: {"error"…` (an engine's error, as vLLM, SGLang and llama.cpp write it). */
function isErrorEvent(bytes: Buffer, start: number): boolean {
  if (bytes.length - start < DATA.length + 1 + CHAT_ERROR.length) return false;
  if (bytes.compare(DATA, 0, DATA.length, start, start + DATA.length) !== 0) return false;
  const json = start + DATA.length + (bytes[start + DATA.length] === 32 ? 1 : 0);
  return bytes.compare(CHAT_ERROR, 0, CHAT_ERROR.length, json, json + CHAT_ERROR.length) === 0;
}

/** Where the event holding byte `at` starts and ends (its blank line included). */
function eventBounds(events: Buffer, at: number): { start: number; end: number } {
  const previousEnd = events.lastIndexOf(EVENT_END, at);
  const next = events.indexOf(EVENT_END, at);
  return { start: previousEnd < 0 ? 0 : previousEnd + 2, end: next < 0 ? events.length : next + 2 };
}

function eventAround(events: Buffer, at: number): string {
  const { start, end } = eventBounds(events, at);
  return events.toString('utf8', start, end);
}

/** Where the last complete event ends (0: none yet). Engines frame with "\n\n"; the SSE spec also allows CRLF. */
function eventsEnd(bytes: Buffer): number {
  const n = bytes.length;
  if (n >= 2 && bytes[n - 1] === LF && bytes[n - 2] === LF) return n; // the usual case: whole events, no scan
  const lf = bytes.lastIndexOf('\n\n');
  const crlf = bytes.lastIndexOf('\r\n\r\n');
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

/**
 * Whether some `"usage":` in the bytes holds an object (engines that send `"usage":null` in every
 * chunk are skipped). Usage is the last field of the last data event before `[DONE]` (OpenAI's
 * stream format, which vLLM and SGLang follow), so a chunk can carry it only if it ends that event
 * (`…}}` then the blank line) or `[DONE]`; then only the chunk's tail is searched. Content chunks
 * end with their `choices` array (`…]}`) and are passed over without a scan.
 */
const TAIL_BYTES = 1024;

function hasUsage(events: Buffer): boolean {
  const n = events.length;
  const endsEvent = events[n - 3] === 125 /* } */ && events[n - 4] === 125;
  const endsDone = events[n - 3] === 93 /* ] */ && events[n - 4] === 69 /* E of DONE */;
  if (!endsEvent && !endsDone && events[n - 1] === LF && events[n - 2] === LF) return false;
  const from = Math.max(0, n - TAIL_BYTES);
  for (let at = events.indexOf(USAGE_KEY, from); at >= 0; at = events.indexOf(USAGE_KEY, at + USAGE_KEY.length)) {
    let next = at + USAGE_KEY.length;
    while (events[next] === 32) next++;
    if (events[next] === 123 /* { */) return true;
  }
  return false;
}

/** Whether a batch's tail holds a tool call's mark (its finish reason, the last tool-call delta). */
function endsInToolCalls(batch: Buffer | undefined): boolean {
  if (batch === undefined) return false;
  const from = Math.max(0, batch.length - TAIL_BYTES);
  for (const mark of CHAT_TOOL_CALLS) if (batch.includes(mark, from)) return true;
  return false;
}
