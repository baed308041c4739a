import type { ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { json, type Received } from '../helpers/recording-engine.js';

// Shared by the workflow tests: scripted answers for the recording engine, a client that records
// what it sends, and a tiny terminal that replays the live view's escape codes.

export const stageOf = (r: Received) => r.headers['x-orla-stage'] as string | undefined;
export const chatCalls = (received: Received[]) => received.filter((r) => r.url === '/v1/chat/completions');
/** The last message of a chat request; a role of `none` for other requests (the run's completion). */
export const lastMessage = (r: Received) => (r.body.messages as { role: string; content: unknown }[] | undefined)?.at(-1) ?? { role: 'none', content: '' };

export interface Answer {
  content?: string;
  toolCalls?: { name: string; args: object }[];
  headers?: Record<string, string>;
}

let callId = 0;

/** A chat completion shaped like vLLM's, with the given text or tool calls. */
export function answer(res: ServerResponse, a: Answer): void {
  const toolCalls = a.toolCalls?.map((c) => ({ id: `call-${++callId}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } }));
  const body = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'recorded-model',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: a.content ?? null, ...(toolCalls ? { tool_calls: toolCalls } : {}) },
        finish_reason: toolCalls ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, prompt_tokens_details: { cached_tokens: 4 } },
  };
  for (const [name, value] of Object.entries(a.headers ?? {})) res.setHeader(name, value);
  json(res, 200, body);
}

/** An `openai` client for `baseUrl` (no `/v1`) that never retries, so a failure shows at once. */
export function clientFor(baseUrl: string, fetchImpl?: typeof fetch): OpenAI {
  return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: 'unused', maxRetries: 0, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

export interface SentRequest {
  url: string;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A fetch that records each request before sending it: what the gateway sees. */
export function recordingFetch(): { fetch: typeof fetch; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const recorder: typeof fetch = async (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    sent.push({ url: String(input), headers: new Headers(init?.headers), body });
    return fetch(input, init);
  };
  return { fetch: recorder, sent };
}

/**
 * Replays terminal output onto a screen of lines, honouring what the live view uses: newlines,
 * carriage return, "cursor to the start of the line n up" (ESC[nF) and "clear below" (ESC[J).
 */
export function replayTerminal(output: string): string[] {
  const screen: string[] = [''];
  let row = 0;
  let col = 0;
  const tokens = output.split(/(\u001b\[[0-9;?]*[A-Za-z]|\n|\r)/);
  for (const token of tokens) {
    if (token === '') continue;
    if (token === '\n') {
      row += 1;
      col = 0;
      screen[row] ??= '';
    } else if (token === '\r') {
      col = 0;
    } else if (token.startsWith('\u001b[')) {
      const arg = Number(token.slice(2, -1)) || 1;
      if (token.endsWith('F')) {
        row = Math.max(0, row - arg);
        col = 0;
      } else if (token.endsWith('J')) {
        screen[row] = screen[row]!.slice(0, col);
        screen.length = row + 1;
      }
    } else {
      const line = screen[row]!.padEnd(col);
      screen[row] = line.slice(0, col) + token + line.slice(col + token.length);
      col += token.length;
    }
  }
  return screen;
}

export class CapturedOutput {
  text = '';
  constructor(
    readonly isTTY = false,
    readonly columns = 160,
    readonly rows = 60,
  ) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}
