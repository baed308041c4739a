import type { Logger } from 'pino';
import type { Identity } from '../sessions/identity.js';
import type { GatewayMetrics } from './metrics.js';
import type { Usage } from './usage.js';

/** One request's path through the gateway: what it was mapped to and when things happened. Finished once. */
export class Exchange {
  readonly started = performance.now();
  /** The API route, set once the request is known to be one (a bounded metrics label). */
  route = '-';
  /** The configured stage and the backend serving the request (bounded metric labels). */
  stage = '-';
  backend = '-';
  /** The stage the request named (or that was inferred), for its log line. */
  requestedStage: string | undefined;
  run: string | undefined;
  /** The tenant of the request's key (a config name, never the key). */
  tenant: string | undefined;
  /** The request's free tags (X-Orla-Tag-<key>, `orla.tags`): recorded with the completion. */
  tags: Record<string, string> | undefined;
  firstByteAt: number | undefined;
  overheadMs: number | undefined;
  /** This completion's cost at its backend's prices (a classifier's call is counted under its own stage). */
  costUsd: number | undefined;
  private finished = false;

  constructor(
    readonly id: string,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  /** Who the request belongs to, for its log line. */
  identify(identity: Identity): void {
    this.requestedStage = identity.stage;
    this.run = identity.run;
    this.tenant = identity.tenant;
    for (const _ in identity.tags) {
      this.tags = identity.tags;
      break;
    }
  }

  /** Status 499: the client left before the response was complete. */
  finish(status: number, usage?: Usage, reason?: string): void {
    if (this.finished) return;
    this.finished = true;
    const now = performance.now();
    this.metrics.record({
      route: this.route,
      stage: this.stage,
      backend: this.backend,
      status,
      seconds: (now - this.started) / 1000,
      firstByteSeconds: this.firstByteAt === undefined ? undefined : (this.firstByteAt - this.started) / 1000,
      overheadSeconds: this.overheadMs === undefined ? undefined : this.overheadMs / 1000,
      usage,
      costUsd: this.costUsd,
    });
    const level = status >= 500 ? 'warn' : 'info';
    if (!this.log.isLevelEnabled(level)) return;
    const line = {
      id: this.id,
      route: this.route,
      stage: this.requestedStage ?? this.stage,
      run: this.run,
      tenant: this.tenant,
      backend: this.backend,
      status,
      ms: round(now - this.started),
      ttfb_ms: this.firstByteAt === undefined ? undefined : round(this.firstByteAt - this.started),
      overhead_ms: this.overheadMs === undefined ? undefined : round(this.overheadMs),
      prompt_tokens: usage?.promptTokens,
      cached_tokens: usage?.cachedTokens,
      completion_tokens: usage?.completionTokens,
      tags: this.tags,
      error: reason,
    };
    this.log[level](line, status >= 500 ? 'request failed' : 'request');
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
