// The engine's Prometheus metrics under vLLM's names (vllm/v1/metrics/loggers.py), labelled with
// model_name and engine as vLLM does. One Registry per simulator: several simulators can share a
// process (the gateway's embedded default runs two).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, EngineStats } from './engine.js';

// vLLM's buckets for vllm:time_to_first_token_seconds.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];

export class SimulatorMetrics {
  readonly registry = new Registry();
  /** One engine snapshot per scrape, shared by every metric. */
  private snapshot: EngineStats | null = null;

  constructor(engine: Engine, modelName: string) {
    const labelNames = ['model_name', 'engine'] as const;
    const labels = { model_name: modelName, engine: '0' };
    const registers = [this.registry];
    // Read the engine's counts at scrape time: nothing is done per token for metrics.
    const stats = (): EngineStats => (this.snapshot ??= engine.stats());
    const gauge = (name: string, help: string, read: (s: EngineStats) => number): void => {
      new Gauge({ name, help, labelNames, registers, collect() { this.set(labels, read(stats())); } });
    };
    const counter = (name: string, help: string, read: (s: EngineStats) => number): void => {
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          this.inc(labels, read(stats()));
        },
      });
    };
    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', (s) => s.running);
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (s) => s.waiting);
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', (s) => s.usage);
    counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.', (s) => s.queryTokens);
    counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', (s) => s.hitTokens);
    counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', (s) => s.promptTokens);
    counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', (s) => s.generationTokens);
    const ttft = new Histogram({
      name: 'vllm:time_to_first_token_seconds',
      help: 'Histogram of time to first token in seconds (simulated time).',
      labelNames,
      registers,
      buckets: TTFT_BUCKETS,
    }).labels(labels);
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
