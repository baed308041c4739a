import { Buffer } from 'node:buffer';
import type { OrlaError } from '../errors.js';
import { usageOfJson, type Usage } from './usage.js';

// Relays an engine's SSE stream to the client as it arrives, reading the usage on the way. It is a
// synchronous transform: the platform moves the bytes (Node with stream events, no promise per
// chunk). Chunks are forwarded at event boundaries: engines write one event per chunk, so nothing
// waits, and an event is never cut in two (which would make a later error event unparsable).

const USAGE_KEY = Buffer.from('"usage":');
/**
 * A completion that called tools: its finish reason says so, or (a forced `tool_choice`, where vLLM
 * and OpenAI finish with "stop") its message or last delta carries a non-empty `tool_calls`.
 */
export const TOOL_CALL_MARKS = ['"finish_reason":"tool_calls"', '"tool_calls":[{'] as const;
const TOOL_CALL_BYTES = TOOL_CALL_MARKS.map((mark) => Buffer.from(mark));
const EVENT_END = Buffer.from('\n\n');
/** A usage-only chunk (OpenAI's `stream_options.include_usage` form): no choices. */
const USAGE_ONLY = /"choices"\s*:\s*\[\s*\]/;
const LF = 10;

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
  /** Called once, before the first chunk goes out. */
  onFirstChunk(): void;
  /** Called once when the stream ends for any reason, just after the last bytes are handed over. */
  onEnd(outcome: RelayOutcome): void;
  /** Turns a failure while reading the engine's body into the error the client sees. */
  describeError(err: unknown): OrlaError;
  /** Whether the client has gone (then a failure is not reported to it). */
  clientGone(): boolean;
}

export interface RelayOutcome {
  usage: Usage | undefined;
  /** The stream finished with tool calls: the agent is now running a tool. */
  toolCalls: boolean;
  error: OrlaError | undefined;
  clientGone: boolean;
}

export class SseRelay implements StreamRelay {
  private carry: Buffer | undefined;
  private started = false;
  private ended = false;
  private usage: Usage | undefined;
  /** The last two pieces of events: the finish chunk is among them (then maybe usage, then [DONE]). */
  private last: Buffer | undefined;
  private beforeLast: Buffer | undefined;

  constructor(private readonly options: RelayOptions) {}

  push(chunk: Uint8Array): Uint8Array | undefined {
    const bytes = this.carry ? Buffer.concat([this.carry, chunk]) : asBuffer(chunk);
    const end = eventsEnd(bytes);
    if (end === 0) {
      this.carry = bytes;
      return undefined;
    }
    this.carry = end < bytes.length ? bytes.subarray(end) : undefined;
    const events = end < bytes.length ? bytes.subarray(0, end) : bytes;
    if (!this.started) {
      this.started = true;
      this.options.onFirstChunk();
    }
    this.beforeLast = this.last;
    this.last = events;
    return hasUsage(events) ? this.takeUsage(events) : events;
  }

  end(): Uint8Array | undefined {
    this.finish(undefined);
    return this.carry;
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

  private finish(error: OrlaError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    // The finish reason and the last tool-call delta are in the last events: only the tail is searched.
    const toolCalls = [this.beforeLast, this.last].some(
      (b) => b !== undefined && TOOL_CALL_BYTES.some((mark) => b.includes(mark, Math.max(0, b.length - TAIL_BYTES))),
    );
    const outcome = { usage: this.usage, toolCalls, error, clientGone: this.options.clientGone() };
    // Accounted once the caller has written the last bytes: the bookkeeping is off the client's path.
    queueMicrotask(() => this.options.onEnd(outcome));
  }

  /**
   * Records the usage of the event that carries it, dropping it when it is a usage-only chunk the
   * client did not ask for. Only that event is parsed; the events around it pass untouched.
   */
  private takeUsage(events: Buffer): Buffer {
    const at = events.lastIndexOf(USAGE_KEY); // usage is the last event's (hasUsage found it)
    const previousEnd = events.lastIndexOf(EVENT_END, at);
    const start = previousEnd < 0 ? 0 : previousEnd + 2;
    const next = events.indexOf(EVENT_END, at);
    const end = next < 0 ? events.length : next + 2;
    const event = events.toString('utf8', start, end);
    const usage = usageOfJson(event); // the usage object alone, not the whole event
    if (usage) this.usage = usage;
    if (!(this.options.stripUsageChunk && usage && USAGE_ONLY.test(event))) return events;
    if (start === 0) return events.subarray(end);
    return end === events.length ? events.subarray(0, start) : Buffer.concat([events.subarray(0, start), events.subarray(end)]);
  }
}

const asBuffer = (chunk: Uint8Array) => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));

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

