// SGLang's Prometheus metrics (python/sglang/srt/metrics/collector.py, served with --enable-metrics),
// read from the engine at scrape time: nothing is done per token. token_usage counts the KV held by
// running requests and by open sessions, as SGLang's locked radix-tree nodes are.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, EngineStats } from '../engine.js';

const TTFT_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400];

export class SglangMetrics {
  readonly registry = new Registry();
  private snapshot: EngineStats | null = null;

  constructor(engine: Engine, modelName: string, blockSize: number) {
    const labelNames = ['model_name'] as const;
    const labels = { model_name: modelName };
    const registers = [this.registry];
    const stats = (): EngineStats => (this.snapshot ??= engine.stats());
    const gauge = (name: string, help: string, read: (s: EngineStats) => number): void => {
      new Gauge({ name, help, labelNames, registers, collect() { this.set(labels, read(stats())); } });
    };
    const counter = (name: string, help: string, read: (s: EngineStats) => number): void => {
      new Counter({ name, help, labelNames, registers, collect() { this.reset(); this.inc(labels, read(stats())); } });
    };
    gauge('sglang:num_running_reqs', 'The number of running requests.', (s) => s.running);
    gauge('sglang:num_queue_reqs', 'The number of requests in the waiting queue.', (s) => s.waiting);
    gauge('sglang:num_used_tokens', 'The number of used tokens.', (s) => Math.round(s.usage * s.totalBlocks) * blockSize);
    gauge('sglang:token_usage', 'The token usage.', (s) => s.usage);
    gauge('sglang:cache_hit_rate', 'The prefix cache hit rate.', (s) => (s.queryTokens > 0 ? s.hitTokens / s.queryTokens : 0));
    counter('sglang:prompt_tokens_total', 'Number of prefill tokens processed.', (s) => s.promptTokens);
    counter('sglang:generation_tokens_total', 'Number of generation tokens processed.', (s) => s.generationTokens);
    counter('sglang:cached_tokens_total', 'Number of cached prompt tokens.', (s) => s.hitTokens);
    const ttft = new Histogram({ name: 'sglang:time_to_first_token_seconds', help: 'Histogram of time to first token in seconds.', labelNames, registers, buckets: TTFT_BUCKETS }).labels(labels);
    engine.observer.firstToken = (seconds) => ttft.observe(seconds);
  }

  async render(): Promise<string> {
    this.snapshot = null;
    try {
      return await this.registry.metrics();
    } finally {
      this.snapshot = null;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
