// Shared by the simulator suites: HTTP calls, SSE parsing and bounded polling (never sleeps).
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.js';
import { until } from '../helpers/wait.js';

export async function withSimulator<T>(options: SimulatorOptions, use: (sim: RunningSimulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator(options);
  try {
    return await use(sim);
  } finally {
    await sim.close();
  }
}

export function post(sim: RunningSimulator, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(sim.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

export async function postJson(sim: RunningSimulator, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await post(sim, path, body, headers);
  return { status: res.status, json: await res.json() };
}

/** The `data:` payloads of an SSE body, in order ('[DONE]' kept as is, JSON parsed). */
export function sseData(text: string): any[] {
  return text
    .split('\n\n')
    .filter((event) => event.startsWith('data: '))
    .map((event) => event.slice('data: '.length))
    .map((data) => (data === '[DONE]' ? data : JSON.parse(data)));
}

/** Polls `check` until it holds; fails naming `what` after `timeoutMs` (the shared until). */
export const waitFor = (check: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void> => until(check, what, timeoutMs);

export const userTurn = (content: string) => ({ role: 'user', content });

/** A long, fixed system prompt: a shared prefix of many full KV blocks. */
export const LONG_SYSTEM = Array.from({ length: 60 }, (_, i) => `Rule ${i}: answer politely and cite the policy section ${i * 7}.`).join('\n');

/** Records the order in which labelled promises settle: order of events, never wall-clock bounds. */
export function settleOrder(): { track<T>(label: string, promise: Promise<T>): Promise<T>; order: string[] } {
  const order: string[] = [];
  return {
    order,
    track: <T>(label: string, promise: Promise<T>) =>
      promise.then(
        (value) => {
          order.push(label);
          return value;
        },
        (error: unknown) => {
          order.push(label);
          throw error;
        },
      ),
  };
}

/** A chat request body whose answer is scripted, with any extra fields. */
export const chatBody = (content: string, extra: Record<string, unknown> = {}) => ({ messages: [userTurn(content)], ...extra });
