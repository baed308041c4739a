import { Buffer } from 'node:buffer';
import type { OrlaError } from '../errors.js';
import { usageOf, type Usage } from './usage.js';

// Relays an engine's SSE stream to the client as it arrives, reading the usage on the way.
// Chunks are forwarded at event boundaries: engines write one event per chunk, so nothing waits, and
// an event can never be cut in two (which would make a later error event unparsable).

const USAGE_MARKERS = [Buffer.from('"usage":{'), Buffer.from('"usage": {')];

export interface RelayOptions {
  /** Drop the usage-only chunk (`choices: []`): Orla asked for it, the client did not. */
  stripUsageChunk: boolean;
  /** Called once, before the first chunk goes out. */
  onFirstChunk(): void;
  /** Called once, when the stream ends for any reason. */
  onEnd(outcome: RelayOutcome): void;
  /** Turns a failure while reading the engine's body into the error the client sees. */
  describeError(err: unknown): OrlaError;
  /** Whether the client has gone (then a failure is not reported to it). */
  clientGone(): boolean;
}

export interface RelayOutcome {
  usage: Usage | undefined;
  error: OrlaError | undefined;
  clientGone: boolean;
}

export async function* relaySse(source: AsyncIterable<Uint8Array>, options: RelayOptions): AsyncGenerator<Uint8Array> {
  let carry: Buffer | undefined;
  const outcome: RelayOutcome = { usage: undefined, error: undefined, clientGone: false };
  let first = true;
  try {
    for await (const chunk of source) {
      const bytes = carry ? Buffer.concat([carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const end = eventsEnd(bytes);
      if (end === 0) {
        carry = bytes;
        continue;
      }
      carry = end < bytes.length ? bytes.subarray(end) : undefined;
      const events = end < bytes.length ? bytes.subarray(0, end) : bytes;
      if (first) {
        first = false;
        options.onFirstChunk();
      }
      yield hasUsage(events) ? takeUsage(events, options.stripUsageChunk, outcome) : events;
    }
    if (carry) yield carry;
  } catch (err) {
    if (options.clientGone()) {
      outcome.clientGone = true;
      return;
    }
    // After the first byte the status is sent: report the failure as an SSE error event (the OpenAI
    // clients raise it) and end the stream. Never a fake [DONE], never a silent truncation.
    outcome.error = options.describeError(err);
    yield Buffer.from(`data: ${outcome.error.body()}\n\n`);
  } finally {
    if (options.clientGone()) outcome.clientGone = true;
    options.onEnd(outcome);
  }
}

/** Where the last complete event ends (0: none yet). Engines frame with "\n\n"; the SSE spec also allows CRLF. */
function eventsEnd(bytes: Buffer): number {
  const lf = bytes.lastIndexOf('\n\n');
  const crlf = bytes.lastIndexOf('\r\n\r\n');
  return Math.max(lf < 0 ? 0 : lf + 2, crlf < 0 ? 0 : crlf + 4);
}

function hasUsage(events: Buffer): boolean {
  return USAGE_MARKERS.some((marker) => events.includes(marker));
}

/** Records the usage of the events that carry one, dropping usage-only chunks when asked. */
function takeUsage(events: Buffer, strip: boolean, outcome: RelayOutcome): Buffer {
  const kept: Buffer[] = [];
  let start = 0;
  while (start < events.length) {
    const next = events.indexOf('\n\n', start);
    const end = next < 0 ? events.length : next + 2;
    const event = events.subarray(start, end);
    start = end;
    const payload = hasUsage(event) ? parseData(event) : undefined;
    const usage = usageOf(payload);
    if (usage) outcome.usage = usage;
    const usageOnly = Array.isArray((payload as { choices?: unknown } | undefined)?.choices) &&
      (payload as { choices: unknown[] }).choices.length === 0;
    if (!(strip && usage && usageOnly)) kept.push(event);
  }
  return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
}

function parseData(event: Buffer): unknown {
  let data = '';
  for (const line of event.toString('utf8').split(/\r?\n/)) {
    if (line.startsWith('data:')) data += line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
  }
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
}
