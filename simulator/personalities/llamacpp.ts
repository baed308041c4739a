// llama.cpp's llama-server (ggml-org/llama.cpp master, 2026: tools/server/server.cpp,
// server-context.cpp, server-task.cpp, server-common.cpp, README.md). What differs from the
// simulator's default:
// - slots (llamacpp-slots.ts): `--parallel N` (-np, default 4 here as llama-server's auto mode),
//   `id_slot` and `cache_prompt` (default true) on the completion routes; GET /slots;
// - POST /slots/{id}?action=erase|save|restore: every action needs --slot-save-path, else 501
//   "This server does not support slots action. Start it with `--slot-save-path`"; erase answers
//   {"id_slot", "n_erased"}, deferred while the slot is busy;
// - GET /metrics only with --metrics (else 501), llamacpp:* names, no labels;
// - errors {"error": {"code", "message", "type"}}, unknown routes 404 "File Not Found";
//   a stream error is `data: {"error": {...}}` and the stream ends (no [DONE]);
// - usage always has prompt_tokens_details.cached_tokens, plus `timings`; `priority` is ignored;
//   `model` is not checked (llama-server serves its one model whatever the name).
import type { ServerResponse } from 'node:http';
import type { Engine, GenerationRequest, GenerationResult } from '../engine.js';
import type { SimulatorError } from '../errors.js';
import { sendJson } from '../exchange.js';
import type { UsageReport } from '../usage.js';
import type { Json } from '../validate.js';
import type { Admission, Personality, RouteRequest } from './personality.js';
import { SlotPool } from './llamacpp-slots.js';

export interface LlamacppOptions {
  /** --parallel / -np: number of slots (default 4). */
  parallel?: number;
  /** --slot-save-path: enables POST /slots/{id}?action=… (the simulator writes no files). */
  slotSavePath?: string;
  /** --metrics: serve GET /metrics. */
  metrics?: boolean;
  /** --slot-prompt-similarity / -sps: prompt similarity a slot must exceed to be reused (default 0.1; 0 disables). */
  slotPromptSimilarity?: number;
}

// server-common.cpp format_error_response: the type each error_type is reported with.
const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  501: 'not_supported_error',
  503: 'unavailable_error',
};
const SLOT_PATH = /^\/slots\/([^/]*)$/;

export class LlamacppPersonality implements Personality {
  readonly name = 'llamacpp' as const;
  readonly anyModel = true;
  readonly usage: UsageReport = LLAMACPP_USAGE;
  readonly slots: SlotPool;
  private promptSeconds = 0;
  private decodeSeconds = 0;

  constructor(
    private readonly engine: Engine,
    private readonly options: LlamacppOptions,
  ) {
    this.slots = new SlotPool(engine, options.parallel ?? 4, options.slotPromptSimilarity ?? 0.1);
  }

  refuse(): boolean {
    return false;
  }

  route(request: RouteRequest): boolean {
    const { res, method, path } = request;
    if (path === '/metrics' && method === 'GET') {
      if (!this.options.metrics) this.fail(res, 501, 'This server does not support metrics endpoint. Start it with `--metrics`');
      else {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(this.renderMetrics());
      }
      return true;
    }
    if (path === '/slots' && method === 'GET') {
      if (request.query.has('fail_on_no_slot') && this.slots.processing === this.slots.size) this.fail(res, 503, 'no slot available');
      else sendJson(res, 200, JSON.stringify(this.slotsJson()));
      return true;
    }
    const slot = SLOT_PATH.exec(path);
    if (slot && method === 'POST') return this.slotAction(request, slot[1]!), true;
    return false;
  }

  notFound(res: ServerResponse): void {
    this.fail(res, 404, 'File Not Found');
  }

  /** server-context.cpp get_health: `{"status": "ok"}` once the model is loaded. */
  health(res: ServerResponse): void {
    sendJson(res, 200, '{"status":"ok"}');
  }

  /** server-context.cpp get_res_models: an Ollama-style `models` list beside OpenAI's `data`. */
  modelList(models: readonly string[], maxModelLen: number): unknown {
    const created = Math.floor(Date.now() / 1000);
    return {
      models: models.map((name) => ({ name, model: name, modified_at: '', size: '', digest: '', type: 'model', description: '', tags: [''], capabilities: ['completion'], parameters: '', details: { parent_model: '', format: 'gguf', family: '', families: [''], parameter_size: '', quantization_level: '' } })),
      object: 'list',
      data: models.map((id) => ({ id, aliases: [id], tags: [], object: 'model', created, owned_by: 'llamacpp', meta: { n_ctx: Math.floor(this.engine.profile.kvCapacityTokens / this.slots.size), n_ctx_train: maxModelLen } })),
    };
  }

  /** cpp-httplib has no handler for another method on a POST route: its 404, like any unknown route. */
  wrongMethod(res: ServerResponse): void {
    this.notFound(res);
  }

  errorBody(error: SimulatorError): string {
    return errorJson(error.status, error.message);
  }

  /** handle_completions_impl: `format_oai_sse({"error": …})`, then the stream terminates (no [DONE]). */
  streamError(message: string): string {
    return `data: {"error":${JSON.stringify({ code: 500, message, type: 'server_error' })}}\n\n`;
  }

  admit(): Admission {
    return { priority: 0 };
  }

  submit(engine: Engine, request: GenerationRequest, body: Json) {
    // Refused before it takes or waits for a slot: a deferred request must never fail later, unanswered.
    engine.assertFits(request);
    const idSlot = Number.isInteger(body.id_slot) ? (body.id_slot as number) : -1;
    const onDone = request.onDone;
    return this.slots.submit(
      {
        ...request,
        onDone: (result: GenerationResult) => {
          this.promptSeconds += result.promptSeconds;
          this.decodeSeconds += result.decodeSeconds;
          onDone?.(result);
        },
      },
      idSlot,
      body.cache_prompt !== false,
    );
  }

  close(): void {
    this.slots.close();
  }

  private fail(res: ServerResponse, status: number, message: string): void {
    sendJson(res, status, errorJson(status, message));
  }

  private slotAction({ res, query }: RouteRequest, rawId: string): void {
    if (!this.options.slotSavePath) return this.fail(res, 501, 'This server does not support slots action. Start it with `--slot-save-path`');
    const id = /^-?\d+$/.test(rawId) ? Number(rawId) : NaN;
    if (!Number.isSafeInteger(id)) return this.fail(res, 400, 'Invalid slot ID');
    const action = query.get('action');
    if (action === 'erase') {
      const known = this.slots.erase(id, (erased) => sendJson(res, 200, JSON.stringify({ id_slot: id, n_erased: erased })));
      if (!known) this.fail(res, 400, 'Invalid slot ID');
      return;
    }
    if (action === 'save' || action === 'restore') return this.fail(res, 501, `slot ${action} is not simulated (the simulator keeps no slot files)`);
    this.fail(res, 400, 'Invalid action');
  }

  /** server_slot::to_json, for the slots' last finished task (the simulator does not count tokens per slot as they stream). */
  private slotsJson(): unknown[] {
    const nCtx = Math.floor(this.engine.profile.kvCapacityTokens / this.slots.size);
    return this.slots.view().map((slot) => {
      const json: Json = { id: slot.id, n_ctx: nCtx, speculative: false, is_processing: slot.isProcessing };
      if (!slot.used) return json;
      return {
        ...json,
        id_task: slot.idTask,
        n_prompt_tokens: slot.nPromptTokens,
        n_prompt_tokens_processed: slot.nPromptTokens - slot.nPromptTokensCache,
        n_prompt_tokens_cache: slot.nPromptTokensCache,
        next_token: [{ has_next_token: slot.isProcessing, has_new_line: false, n_remain: -1, n_decoded: slot.nDecoded }],
      };
    });
  }

  /** server-task.cpp server_task_result_metrics::to_metrics: `# HELP`, `# TYPE`, `llamacpp:<name> <value>`. */
  private renderMetrics(): string {
    const stats = this.engine.stats();
    const rate = (tokens: number, seconds: number): number => (seconds > 0 ? tokens / seconds : 0);
    const metrics: [string, string, string, number][] = [
      ['counter', 'prompt_tokens_total', 'Number of prompt tokens processed.', stats.promptTokens - stats.hitTokens],
      ['counter', 'prompt_seconds_total', 'Prompt process time', this.promptSeconds],
      ['counter', 'tokens_predicted_total', 'Number of generation tokens processed.', stats.generationTokens],
      ['counter', 'tokens_predicted_seconds_total', 'Predict process time', this.decodeSeconds],
      ['counter', 'n_decode_total', 'Total number of llama_decode() calls', stats.steps],
      ['counter', 'n_tokens_max', 'Largest observed n_tokens.', this.slots.maxTokens],
      ['counter', 'n_busy_slots_per_decode', 'Average number of busy slots per llama_decode() call', stats.steps > 0 ? stats.generationTokens / stats.steps : 0],
      ['gauge', 'prompt_tokens_seconds', 'Average prompt throughput in tokens/s.', rate(stats.promptTokens - stats.hitTokens, this.promptSeconds)],
      ['gauge', 'predicted_tokens_seconds', 'Average generation throughput in tokens/s.', rate(stats.generationTokens, this.decodeSeconds)],
      ['gauge', 'requests_processing', 'Number of requests processing.', this.slots.processing],
      ['gauge', 'requests_deferred', 'Number of requests deferred.', this.slots.deferredCount],
    ];
    return metrics.map(([type, name, help, value]) => `# HELP llamacpp:${name} ${help}\n# TYPE llamacpp:${name} ${type}\nllamacpp:${name} ${value}\n`).join('');
  }
}

function errorJson(status: number, message: string): string {
  return `{"error":${JSON.stringify({ code: status, message, type: TYPE_BY_STATUS[status] ?? 'server_error' })}}`;
}

/** usage_json_oaicompat (cached_tokens always) and the `timings` llama-server adds to a final result. */
const LLAMACPP_USAGE: UsageReport = {
  completionUsage: (r) =>
    `{"completion_tokens":${r.completionTokens},"prompt_tokens":${r.promptTokens},"total_tokens":${r.promptTokens + r.completionTokens},"prompt_tokens_details":{"cached_tokens":${r.cachedTokens}}}`,
  responsesCachedTokens: (r) => r.cachedTokens,
  extraFields(r) {
    const promptN = r.promptTokens - r.cachedTokens;
    const promptMs = r.promptSeconds * 1000;
    const predictedMs = r.decodeSeconds * 1000;
    const perToken = (ms: number, n: number): number => (n > 0 ? ms / n : 0);
    const perSecond = (ms: number, n: number): number => (ms > 0 ? (1000 * n) / ms : 0);
    return `,"timings":${JSON.stringify({
      cache_n: r.cachedTokens,
      prompt_n: promptN,
      prompt_ms: promptMs,
      prompt_per_token_ms: perToken(promptMs, promptN),
      prompt_per_second: perSecond(promptMs, promptN),
      predicted_n: r.completionTokens,
      predicted_ms: predictedMs,
      predicted_per_token_ms: perToken(predictedMs, r.completionTokens),
      predicted_per_second: perSecond(predictedMs, r.completionTokens),
    })}`;
  },
};
