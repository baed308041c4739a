import type { BackendConfig } from '../../config/schema.js';
import { engineOf } from './index.js';

/** The Responses API always reports usage; these routes stream it only when asked (`stream_options`). */
const STREAM_OPTIONS_ROUTES = new Set(['/v1/chat/completions', '/v1/completions']);

export interface EngineRequestInput {
  path: string;
  /** The stage's model, replacing the client's; undefined keeps it. */
  model: string | undefined;
  /** The stage's request fields, which override the client's. */
  params: Readonly<Record<string, unknown>> | undefined;
  /** X-Orla-Priority (higher first). */
  priority: number | undefined;
  backend: BackendConfig;
}

/**
 * Turns the client's body (Orla's own tags already taken out) into what the backend's engine gets, in
 * place: the stage's model and params; `stream_options.include_usage` on a stream, since Orla needs
 * the token counts (it says whether the client did not ask, so the usage chunk is not passed on);
 * and X-Orla-Priority in the engine's convention when it runs priority scheduling, else no
 * `priority` at all (engines without it reject the field).
 */
export function toEngineRequest(body: Record<string, unknown>, input: EngineRequestInput): { stripUsageChunk: boolean } {
  if (input.model !== undefined) body.model = input.model;
  if (input.params) Object.assign(body, input.params);
  let stripUsageChunk = false;
  if (body.stream === true && STREAM_OPTIONS_ROUTES.has(input.path)) {
    const options = body.stream_options as { include_usage?: boolean } | null | undefined;
    if (options?.include_usage !== true) {
      body.stream_options = { ...options, include_usage: true };
      stripUsageChunk = true;
    }
  }
  const engine = engineOf(input.backend.engine).priority;
  if (!input.backend.priority_scheduling || !engine) delete body.priority;
  else if (input.priority !== undefined) {
    const order = input.backend.priority_order ?? engine.order;
    body.priority = order === 'lower_first' ? -input.priority : input.priority;
  }
  return { stripUsageChunk };
}
