import type { Context } from 'hono';
import { expect, it } from 'vitest';
import type { StreamRelay } from '../../gateway/sse.js';
import { webPlatform } from '../../gateway/web/platform.js';
import { within } from '../helpers/wait.js';

// The Web-standard platform's response stream (Workers, Deno, Bun) when an engine's piece gives the
// client nothing yet: half an SSE event cut by the network, a usage event the client did not ask
// for. A stream's pull that enqueues nothing is not called again, so the platform reads on itself.

it('a piece that gives the client nothing yet does not stall the stream', async () => {
  const pieces = ['data: {"a":', '1}\n\n', 'data: {"usage":{}}\n\n', 'data: [DONE]\n\n'];
  async function* upstream() {
    for (const piece of pieces) {
      await new Promise((resolve) => setTimeout(resolve, 1)); // each piece arrives on its own
      yield new TextEncoder().encode(piece);
    }
  }
  let held = '';
  const relay: StreamRelay = {
    // Half an event is held until its end comes; the usage event is dropped.
    push(chunk) {
      const text = held + new TextDecoder().decode(chunk);
      held = text.endsWith('\n\n') ? '' : text;
      return held || text.includes('usage') ? undefined : new TextEncoder().encode(text);
    },
    end: () => undefined,
    fail: () => undefined,
  };
  const res = await webPlatform.stream({} as Context, { status: 200, headers: { 'content-type': 'text/event-stream' } }, upstream(), relay);
  expect(await within(res.text(), 'the stream to end')).toBe('data: {"a":1}\n\ndata: [DONE]\n\n');
});
