// The simulated inference engine: continuous batching driven by a step loop on a virtual clock
// (step-loop.ts), scheduled the way vLLM's v1 scheduler does (vllm/v1/core/sched/scheduler.py):
// each step gives every running sequence one decode token, spends the rest of the token budget on
// chunked prefill (continuing prefills first, then newly admitted requests in priority order),
// and lasts what the latency model says for that mix.
import type { EngineObserver, EngineOptions, EngineStats, GenerationHandle, GenerationRequest, GenerationResult } from './engine-types.js';
import { chainRoot, PrefixCache } from './kvcache.js';
import { prefillChunkMs, stepMs } from './latency.js';
import type { EngineProfile } from './profiles.js';
import { Sequence, WaitingQueue } from './sequence.js';
import { StepLoop } from './step-loop.js';

export type { EngineObserver, EngineOptions, EngineStats, GenerationHandle, GenerationRequest, GenerationResult } from './engine-types.js';

/** The request can never run here (it needs more KV cache than the engine has). */
export class EngineRejection extends Error {}

interface PlannedStep {
  endSeconds: number;
  decode: Sequence[];
  prefill: Sequence[];
  prefillTokens: number[];
}

export class Engine {
  readonly profile: EngineProfile;
  readonly cache: PrefixCache;
  readonly speed: number;
  observer: EngineObserver = {};
  private readonly waiting = new WaitingQueue();
  private running: Sequence[] = [];
  private runningCount = 0;
  private readonly loop: StepLoop<PlannedStep>;
  private closed = false;
  private arrivals = 0;
  private steps = 0;
  private readonly idleListeners = new Set<() => void>();
  private promptTokens = 0;
  private generationTokens = 0;

  constructor(options: EngineOptions) {
    this.profile = options.profile;
    this.speed = options.speed ?? 1;
    this.cache = new PrefixCache(this.profile.kvCapacityTokens, this.profile.blockSize);
    this.loop = new StepLoop(this.speed, (start) => this.planStep(start), (step) => this.completeStep(step));
  }

  /** Throws EngineRejection for a request that can never run here (more KV cache than the engine has). */
  assertFits(request: GenerationRequest): void {
    const total = request.promptTokenIds.length + request.outputTokenIds.length;
    if (request.outputTokenIds.length < 1) throw new RangeError('a request must generate at least one token');
    if (this.cache.blocksFor(total) > this.cache.totalBlocks) {
      throw new EngineRejection(`the request needs ${total} tokens of KV cache; this engine holds ${this.cache.totalBlocks * this.cache.blockSize}`);
    }
  }

  submit(request: GenerationRequest): GenerationHandle {
    if (this.closed) throw new Error('engine is closed');
    this.assertFits(request);
    const promptLength = request.promptTokenIds.length;
    const hashes = this.cache.hashBlocks(request.promptTokenIds, promptLength, chainRoot(request.cacheSalt));
    const seq = new Sequence(request, this.arrivals++, this.loop.nowSeconds(), request.priority ?? 0, hashes);
    const handle: GenerationHandle = { abort: () => this.abort(seq) };
    const signal = request.signal;
    if (signal?.aborted) {
      queueMicrotask(handle.abort);
    } else if (signal) {
      signal.addEventListener('abort', handle.abort, { once: true });
      seq.detachSignal = () => signal.removeEventListener('abort', handle.abort);
    }
    this.waiting.add(seq);
    this.loop.wake();
    return handle;
  }

  /** Stops starting steps (requests queue up) until resume(); for tests and controlled scenarios. */
  pause(): void {
    this.loop.pause();
  }

  resume(): void {
    this.loop.resume();
  }

  /** SGLang's /flush_cache: the whole cache, refused while any request runs or waits. */
  flushCache(): boolean {
    if (this.runningCount > 0 || this.waiting.length > 0) return false;
    return this.cache.reset();
  }

  /** vLLM's reset_prefix_cache: refused while running requests hold blocks. */
  resetPrefixCache(): boolean {
    return this.cache.reset();
  }

  /** Frees the cached blocks only this session touched and no running request holds; tokens freed. */
  flushSession(sessionId: string): number {
    return this.cache.flushSession(sessionId);
  }

  /** No request runs or waits. */
  get idle(): boolean {
    return this.runningCount === 0 && this.waiting.length === 0;
  }

  /** Calls `listener` each time the last running or waiting request finishes; returns the unsubscribe. */
  onIdle(listener: () => void): () => void {
    this.idleListeners.add(listener);
    return () => this.idleListeners.delete(listener);
  }

  /** Simulated time at the end of the last step. */
  get simulatedSeconds(): number {
    return this.loop.simulatedSeconds;
  }

  /** A step is planned or a timer armed; false once everything is done (no timer left behind). */
  get active(): boolean {
    return this.loop.active;
  }

  stats(): EngineStats {
    return {
      ...this.cache.stats(),
      running: this.runningCount,
      waiting: this.waiting.length,
      steps: this.steps,
      promptTokens: this.promptTokens,
      generationTokens: this.generationTokens,
    };
  }

  /** Aborts everything and stops the loop. */
  close(): void {
    this.closed = true;
    this.loop.close();
    for (const seq of [...this.waiting.drain(), ...this.running]) this.abort(seq);
  }

  private abort(seq: Sequence): void {
    if (seq.state === 'finished') return;
    if (seq.state === 'waiting') this.waiting.remove(seq);
    this.finish(seq, 'abort');
  }

  private finish(seq: Sequence, finishReason: string): void {
    if (seq.state === 'running') this.runningCount--;
    seq.state = 'finished';
    if (seq.allocation) {
      if (seq.request.pin) this.cache.pin(seq.request.pin, seq.allocation);
      this.cache.release(seq.allocation);
    }
    seq.detachSignal?.();
    const now = this.loop.simulatedSeconds;
    const firstToken = seq.firstTokenSeconds ?? now;
    const result: GenerationResult = {
      promptTokens: seq.promptLength,
      completionTokens: seq.generated,
      cachedTokens: seq.allocation?.cachedTokens ?? 0,
      finishReason,
      promptSeconds: Math.max(0, firstToken - seq.arrivalSeconds),
      decodeSeconds: Math.max(0, now - firstToken),
    };
    seq.allocation = null;
    try {
      seq.request.onDone?.(result);
    } catch (error) {
      reportListenerError(error);
    }
    if (this.idleListeners.size > 0 && this.idle) for (const listener of [...this.idleListeners]) listener();
  }

  private planStep(startSeconds: number): PlannedStep | null {
    if (this.running.length !== this.runningCount) this.running = this.running.filter((seq) => seq.state === 'running');
    const { latency, stepTokenBudget, maxBatch } = this.profile;
    let budget = stepTokenBudget;
    const decode: Sequence[] = [];
    const prefill: Sequence[] = [];
    const prefillTokens: number[] = [];
    let prefillMs = 0;
    const schedulePrefill = (seq: Sequence): void => {
      const tokens = Math.min(seq.promptLength - seq.computed, budget);
      prefill.push(seq);
      prefillTokens.push(tokens);
      prefillMs += prefillChunkMs(latency, seq.computed, tokens);
      budget -= tokens;
    };
    for (const seq of this.running) {
      if (budget === 0) break;
      if (seq.prefillDone) {
        decode.push(seq);
        budget--;
      }
    }
    for (const seq of this.running) {
      if (budget === 0) break;
      if (!seq.prefillDone) schedulePrefill(seq);
    }
    while (budget > 0 && this.runningCount < maxBatch && this.waiting.length > 0) {
      const seq = this.waiting.next()!;
      // Blocks for the prompt and the whole output at once. vLLM allocates as it goes and preempts
      // when short; knowing each output length up front, the simulator reserves exactly what vLLM
      // would end up holding, and never needs to preempt.
      const allocation = this.cache.allocate(seq.hashes, seq.promptLength, seq.promptLength + seq.outputLength, seq.request.sessionId ?? '');
      // Like vLLM, the head of the queue waits for room rather than being overtaken.
      if (!allocation) break;
      this.waiting.popNext();
      seq.state = 'running';
      seq.allocation = allocation;
      seq.computed = allocation.cachedTokens;
      this.running.push(seq);
      this.runningCount++;
      schedulePrefill(seq);
    }
    if (decode.length === 0 && prefill.length === 0) return null;
    const durationMs = stepMs(latency, prefill.length > 0, prefillMs, decode.length);
    return { endSeconds: startSeconds + durationMs / 1000, decode, prefill, prefillTokens };
  }

  private completeStep(step: PlannedStep): void {
    this.steps++;
    const blockSize = this.cache.blockSize;
    step.prefill.forEach((seq, i) => {
      if (seq.state !== 'running') return;
      seq.computed += step.prefillTokens[i]!;
      this.cache.commit(seq.allocation!, seq.hashes, Math.floor(seq.computed / blockSize));
      // The step that completes a prompt samples its first token.
      if (seq.prefillDone) this.emitToken(seq);
    });
    for (const seq of step.decode) {
      if (seq.state === 'running') this.emitToken(seq);
    }
  }

  private emitToken(seq: Sequence): void {
    const index = seq.generated++;
    this.generationTokens++;
    try {
      if (index === 0) {
        seq.firstTokenSeconds = this.loop.simulatedSeconds;
        this.promptTokens += seq.promptLength;
        // Clamped: a request stamped while the loop ran behind schedule can look "later" than its step.
        this.observer.firstToken?.(Math.max(0, this.loop.simulatedSeconds - seq.arrivalSeconds));
        seq.request.onFirstToken?.();
      }
      seq.request.onToken?.(index);
    } catch (error) {
      reportListenerError(error);
    }
    if (seq.state !== 'running') return; // aborted from a listener
    if (seq.generated === seq.outputLength) this.finish(seq, seq.request.finishReason);
    else this.cacheOutputBlocks(seq);
  }

  /** Output blocks are cached as their KV is computed (every token but the last sampled one). */
  private cacheOutputBlocks(seq: Sequence): void {
    const blockSize = this.cache.blockSize;
    const computedTokens = seq.promptLength + seq.generated - 1;
    const fullBlocks = Math.floor(computedTokens / blockSize);
    if (fullBlocks <= seq.hashes.length) return;
    if (!seq.allTokens) {
      seq.allTokens = new Uint32Array(seq.promptLength + seq.outputLength);
      seq.allTokens.set(seq.request.promptTokenIds);
      seq.allTokens.set(seq.request.outputTokenIds, seq.promptLength);
    }
    const parent = seq.hashes.length > 0 ? seq.hashes[seq.hashes.length - 1]! : chainRoot(seq.request.cacheSalt);
    this.cache.hashBlocks(seq.allTokens, computedTokens, parent, seq.hashes);
    this.cache.commit(seq.allocation!, seq.hashes, fullBlocks);
  }
}

/** A listener's exception must not stop the engine loop for every other request. */
function reportListenerError(error: unknown): void {
  console.error('simulator: a request listener threw', error);
}
