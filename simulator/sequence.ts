// A request inside the engine, and the waiting queue that orders them.
import type { KvAllocation } from './kvcache.js';
import type { GenerationRequest } from './engine.js';

export class Sequence {
  state: 'waiting' | 'running' | 'finished' = 'waiting';
  allocation: KvAllocation | null = null;
  /** Tokens whose KV is computed (cached prefix included). */
  computed = 0;
  generated = 0;
  /** Prompt + output, built when the first output block is hashed. */
  allTokens: Uint32Array | null = null;
  detachSignal: (() => void) | null = null;
  firstTokenSeconds: number | null = null;

  constructor(
    readonly request: GenerationRequest,
    readonly arrival: number,
    readonly arrivalSeconds: number,
    readonly priority: number,
    /** Hash of each full block: the prompt's up front, output blocks as they fill. */
    readonly hashes: number[],
  ) {}

  get promptLength(): number {
    return this.request.promptTokenIds.length;
  }

  get outputLength(): number {
    return this.request.outputTokenIds.length;
  }

  get prefillDone(): boolean {
    return this.computed >= this.promptLength;
  }
}

function servedBefore(a: Sequence, b: Sequence): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.arrival < b.arrival);
}

/** Higher priority first, then arrival order. Kept sorted with the next to admit last (pop is O(1)). */
export class WaitingQueue {
  private readonly items: Sequence[] = [];

  get length(): number {
    return this.items.length;
  }

  add(seq: Sequence): void {
    let low = 0;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (servedBefore(this.items[mid]!, seq)) high = mid;
      else low = mid + 1;
    }
    this.items.splice(low, 0, seq);
  }

  next(): Sequence | undefined {
    return this.items[this.items.length - 1];
  }

  popNext(): Sequence | undefined {
    return this.items.pop();
  }

  remove(seq: Sequence): void {
    const index = this.items.lastIndexOf(seq);
    if (index >= 0) this.items.splice(index, 1);
  }

  drain(): Sequence[] {
    return this.items.splice(0);
  }
}
