import type { OpenAI } from 'openai';
import type { CacheHint, Completion } from './types.js';

// Orla's wire protocol from the client's side (DESIGN.md, "The wire protocol"): the tags a call
// carries, what the gateway reports back in its response headers, and completing a run.

export interface CallTags {
  run: string;
  stage: string;
  priority?: number;
  cache?: CacheHint;
}

export function tagHeaders(tags: CallTags): Record<string, string> {
  const headers: Record<string, string> = { 'X-Orla-Workflow-Run': tags.run, 'X-Orla-Stage': tags.stage };
  if (tags.priority !== undefined) headers['X-Orla-Priority'] = String(tags.priority);
  if (tags.cache !== undefined) headers['X-Orla-Cache'] = tags.cache;
  return headers;
}

export interface GatewayReport {
  requestId?: string;
  backend?: string;
  queueMs?: number;
  overheadMs?: number;
  cacheAction?: string;
  costUsd?: number;
}

/** The gateway's response headers; any of them may be missing (another gateway, an older Orla). */
export function readGatewayReport(headers: Headers): GatewayReport {
  const report: GatewayReport = {};
  const text = (name: string) => headers.get(name) ?? undefined;
  const number = (name: string) => {
    const value = Number(headers.get(name) ?? Number.NaN);
    return Number.isFinite(value) ? value : undefined;
  };
  const set = <K extends keyof GatewayReport>(key: K, value: GatewayReport[K] | undefined) => {
    if (value !== undefined) report[key] = value;
  };
  set('requestId', text('x-request-id'));
  set('backend', text('x-orla-backend'));
  set('queueMs', number('x-orla-queue-ms'));
  set('overheadMs', number('x-orla-overhead-ms'));
  set('cacheAction', text('x-orla-cache'));
  set('costUsd', number('x-orla-cost-usd'));
  return report;
}

/**
 * Tells the gateway the run is over, so it releases the run's cache now rather than at its idle
 * timeout. Never throws: a gateway without the endpoint (404) or a network error is reported.
 * Deliberately not tied to the run's signal, so a cancelled run is completed too.
 */
export async function completeRun(client: OpenAI, run: string): Promise<Completion> {
  try {
    await client.post(`/workflows/${encodeURIComponent(run)}/complete`, { body: {}, maxRetries: 0, timeout: 10_000 });
    return { ok: true, status: 200 };
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    return {
      ok: false,
      ...(typeof status === 'number' ? { status } : {}),
      message: (err as Error).message,
    };
  }
}
