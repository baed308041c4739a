import { LRUCache } from 'lru-cache';
import type { OneBitConfig } from '../../config/mappers.js';
import { OrlaError } from '../../errors.js';
import type { AdmissionBackend } from '../admission-backend.js';
import { costOf, type TokenUsage } from '../cost.js';
import { callBackend } from '../internal-call.js';
import type { MapRequest } from '../types.js';
import { requestText } from './content.js';
import { classifierMessages, predictionOf, promptText, VERDICT_FORMAT } from './onebit-prompt.js';
import type { Choice, DynamicMapper, FallbackReason, MapContext, MapperObserver } from './types.js';

export interface OneBitDeps {
  backends: ReadonlyMap<string, AdmissionBackend>;
  observer: MapperObserver;
}

type Outcome = ({ simple: boolean } | { failed: FallbackReason }) & { costUsd: number; usage?: TokenUsage | undefined; status?: number };

/**
 * The Orla paper's OneBit: a light model judges each request simple or complex, and the request goes
 * to that side. The judgement never fails the request: a timeout, an engine error or an answer that
 * is not `{"prediction": <bool>}` sends it to the fallback side.
 */
export class OneBitMapper implements DynamicMapper {
  /** The classifier's own queue on its backend. */
  readonly stage: string;
  private readonly prompt: string;
  private readonly verdicts: LRUCache<string, boolean> | undefined;

  constructor(readonly name: string, private readonly config: OneBitConfig, private readonly deps: OneBitDeps) {
    this.stage = `onebit:${name}`;
    this.prompt = promptText(config.prompt);
    this.verdicts = config.cache_size > 0 ? new LRUCache({ max: config.cache_size }) : undefined;
  }

  async choose({ request }: MapContext): Promise<Choice> {
    const text = requestText(request.body, this.config.max_content_chars, this.config.reads);
    // A run's retries resend the same text: judged once. The prompt is fixed per mapper, so the text is the key.
    const key = this.verdicts ? await sha256(text) : undefined;
    const known = key === undefined ? undefined : this.verdicts?.get(key);
    if (known !== undefined) return this.side(known ? 'simple' : 'complex', 0, true);
    const trace = request.trace?.classifying(this.name, this.config.classifier.backend, this.config.classifier.model);
    const outcome = await this.classify(text, request, trace?.headers);
    trace?.ended('failed' in outcome ? outcome : { ...outcome, verdict: outcome.simple ? 'simple' : 'complex' });
    if ('failed' in outcome) {
      this.deps.observer.classifierFailed?.(this.name, outcome.failed);
      this.deps.observer.mapped?.(this.name, 'fallback', false);
      return { ...this.config[this.config.fallback], verdict: 'fallback', costUsd: outcome.costUsd };
    }
    if (key !== undefined) this.verdicts?.set(key, outcome.simple);
    return this.side(outcome.simple ? 'simple' : 'complex', outcome.costUsd, false);
  }

  private side(verdict: 'simple' | 'complex', costUsd: number, cached: boolean): Choice {
    this.deps.observer.mapped?.(this.name, verdict, cached);
    return { ...this.config[verdict], verdict, costUsd };
  }

  private async classify(text: string, request: MapRequest, headers: Record<string, string> | undefined): Promise<Outcome> {
    const { classifier } = this.config;
    const backend = this.deps.backends.get(classifier.backend)!;
    const messages = classifierMessages(this.prompt, text);
    try {
      const answer = await callBackend(backend, {
        ticket: {
          stage: this.stage,
          run: request.identity.run,
          priority: request.identity.priority ?? 0,
          promptTokens: Math.ceil((this.prompt.length + text.length) / 4),
        },
        path: '/v1/chat/completions',
        body: { temperature: 0, max_tokens: classifier.max_tokens, ...classifier.params, model: classifier.model, messages, response_format: VERDICT_FORMAT, stream: false },
        // Within the request's own deadline: past it the request gets its 408 anyway.
        timeoutMs: Math.max(0, Math.min(classifier.timeout_ms, (request.deadlineAt ?? Infinity) - performance.now())),
        signal: request.signal,
        headers,
      });
      let costUsd = 0;
      if (answer.usage) {
        costUsd = costOf(answer.usage, backend.config.price);
        this.deps.observer.internalUsage?.(backend.name, this.stage, answer.usage, costUsd);
      }
      const { status, usage } = answer;
      if (status >= 300) return { failed: 'error', costUsd, status, usage };
      const prediction = predictionOf(answer.json);
      return prediction === undefined ? { failed: 'invalid', costUsd, status, usage } : { simple: prediction, costUsd, status, usage };
    } catch (err) {
      if (request.signal?.aborted) throw err; // the client left: nothing to route
      return { failed: err instanceof OrlaError && err.status === 504 ? 'timeout' : 'error', costUsd: 0 };
    }
  }
}

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
