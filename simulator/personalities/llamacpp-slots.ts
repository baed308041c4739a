// llama.cpp's slots (tools/server/server-context.cpp, llama.cpp master 2026): --parallel N slots,
// each running one task at a time, each holding its own prompt cache. A task naming a busy slot
// (`id_slot`) is deferred until that slot frees, never moved; a task without one takes the idle slot
// whose cached tokens share the longest prefix with its prompt, above --slot-prompt-similarity
// (default 0.1), else the least recently used idle slot (ties: the last one, as get_available_slot's
// `<=` picks); with no idle slot it is deferred. Erasing a busy slot is deferred the same way.
//
// The engine's prefix cache is shared, so each slot's blocks get their own hash chain (a per-slot
// cache salt) and, when a slot takes a new prompt, the blocks past the common prefix are forgotten:
// a prompt reuses only what its slot still holds, as llama.cpp's `cache_prompt` does.
import type { Engine, GenerationHandle, GenerationRequest, GenerationResult } from '../engine.js';
import { chainRoot } from '../kvcache.js';

export interface SlotView {
  id: number;
  isProcessing: boolean;
  idTask: number;
  nPromptTokens: number;
  nPromptTokensCache: number;
  nDecoded: number;
  used: boolean;
  tokens: number;
}

interface Slot {
  id: number;
  busy: boolean;
  /** What the slot's KV holds: its last prompt and the tokens it generated. */
  tokens: Uint32Array;
  /** Hashes of the full blocks of `tokens` under the slot's salt. */
  hashes: number[];
  /** Release order (llama.cpp's t_last_used); -1 = never used. */
  lastUsed: number;
  idTask: number;
  nPromptTokens: number;
  nPromptTokensCache: number;
  nDecoded: number;
}

type Task =
  | { kind: 'completion'; idSlot: number; request: GenerationRequest; cachePrompt: boolean; handle: GenerationHandle | null; aborted: boolean }
  | { kind: 'erase'; idSlot: number; done: (erased: number) => void };

const EMPTY = new Uint32Array(0);

export class SlotPool {
  private readonly slots: Slot[];
  private readonly deferred: Task[] = [];
  private clock = 0;
  private tasks = 0;
  private closed = false;
  /** The longest sequence a slot has held (llama.cpp's n_tokens_max). */
  maxTokens = 0;

  constructor(
    private readonly engine: Engine,
    parallel: number,
    private readonly similarity: number,
  ) {
    this.slots = Array.from({ length: parallel }, (_, id) => ({ id, busy: false, tokens: EMPTY, hashes: [], lastUsed: -1, idTask: -1, nPromptTokens: 0, nPromptTokensCache: 0, nDecoded: 0 }));
  }

  get size(): number {
    return this.slots.length;
  }

  get processing(): number {
    let busy = 0;
    for (const slot of this.slots) if (slot.busy) busy++;
    return busy;
  }

  get deferredCount(): number {
    return this.deferred.length;
  }

  view(): SlotView[] {
    return this.slots.map((s) => ({ id: s.id, isProcessing: s.busy, idTask: s.idTask, nPromptTokens: s.nPromptTokens, nPromptTokensCache: s.nPromptTokensCache, nDecoded: s.nDecoded, used: s.lastUsed >= 0 || s.busy, tokens: s.tokens.length }));
  }

  /** A completion: runs in its slot now, or waits (deferred) for one. */
  submit(request: GenerationRequest, idSlot: number, cachePrompt: boolean): GenerationHandle {
    const task: Task = { kind: 'completion', idSlot, request, cachePrompt, handle: null, aborted: false };
    if (!this.tryRun(task)) this.deferred.push(task);
    return {
      abort: () => {
        if (task.handle) return task.handle.abort();
        task.aborted = true;
        const at = this.deferred.indexOf(task);
        if (at >= 0) this.deferred.splice(at, 1);
      },
    };
  }

  /** Clears slot `idSlot` (wrapping as get_slot_by_id does) now, or once its task is done; null: no such slot. */
  erase(idSlot: number, done: (erased: number) => void): boolean {
    if (idSlot < 0) return false;
    const task: Task = { kind: 'erase', idSlot: idSlot % this.slots.length, done };
    if (!this.tryRun(task)) this.deferred.push(task);
    return true;
  }

  private tryRun(task: Task): boolean {
    const slot = task.kind === 'erase' || task.idSlot >= 0 ? this.slots[task.idSlot % this.slots.length]! : this.pick(task.request.promptTokenIds);
    if (!slot || slot.busy) return false;
    if (task.kind === 'erase') {
      const erased = slot.tokens.length;
      this.engine.cache.forgetIdle(slot.hashes);
      slot.tokens = EMPTY;
      slot.hashes = [];
      task.done(erased);
      return true;
    }
    if (!task.aborted) this.launch(slot, task);
    return true;
  }

  /** get_available_slot without id_slot: the best prompt similarity above the threshold, else LRU. */
  private pick(prompt: Uint32Array): Slot | undefined {
    let best: Slot | undefined;
    if (this.similarity !== 0) {
      let bestSimilarity = 0;
      for (const slot of this.slots) {
        if (slot.busy || slot.tokens.length === 0) continue;
        const similarity = commonPrefix(slot.tokens, prompt) / prompt.length;
        if (similarity > bestSimilarity && similarity > this.similarity) {
          bestSimilarity = similarity;
          best = slot;
        }
      }
    }
    if (best) return best;
    let lastUsed = -1;
    for (const slot of this.slots) {
      if (slot.busy) continue;
      if (!best || slot.lastUsed <= lastUsed) {
        lastUsed = slot.lastUsed;
        best = slot;
      }
    }
    return best;
  }

  private launch(slot: Slot, task: Extract<Task, { kind: 'completion' }>): void {
    const { request } = task;
    const cache = this.engine.cache;
    const root = chainRoot(saltOf(slot.id));
    const prompt = request.promptTokenIds;
    const hashes = cache.hashBlocks(prompt, prompt.length, root);
    let keep = 0;
    if (task.cachePrompt) while (keep < hashes.length && keep < slot.hashes.length && hashes[keep] === slot.hashes[keep]) keep++;
    // The slot overwrites what it held past the common prefix: no later prompt can reuse that.
    cache.forgetIdle(keep === 0 ? slot.hashes : slot.hashes.slice(keep));
    slot.busy = true;
    slot.hashes = [];
    slot.idTask = this.tasks++;
    slot.nPromptTokens = prompt.length;
    task.handle = this.engine.submit({
      ...request,
      cacheSalt: saltOf(slot.id),
      onDone: (result) => {
        this.release(slot, request, result, root);
        request.onDone?.(result);
        this.drain();
      },
    });
  }

  private release(slot: Slot, request: GenerationRequest, result: GenerationResult, root: number): void {
    const prompt = request.promptTokenIds;
    // The last sampled token never enters the slot (it would be decoded with the next token, and
    // there is none): the slot holds the prompt and every generated token but that one.
    const generated = Math.max(0, result.completionTokens - 1);
    const tokens = new Uint32Array(prompt.length + generated);
    tokens.set(prompt);
    tokens.set(request.outputTokenIds.subarray(0, generated), prompt.length);
    slot.tokens = tokens;
    slot.hashes = this.engine.cache.hashBlocks(tokens, tokens.length, root);
    slot.busy = false;
    slot.lastUsed = this.clock++;
    slot.nPromptTokensCache = result.cachedTokens;
    slot.nDecoded = result.completionTokens;
    this.maxTokens = Math.max(this.maxTokens, tokens.length);
  }

  /** The server is closing: deferred tasks are dropped (their connections are closed with it). */
  close(): void {
    this.closed = true;
    this.deferred.length = 0;
  }

  /** A slot freed: run the deferred tasks that can run now, oldest first. */
  private drain(): void {
    if (this.closed) return;
    for (let i = 0; i < this.deferred.length; ) {
      if (this.tryRun(this.deferred[i]!)) this.deferred.splice(i, 1);
      else i++;
    }
  }
}

function saltOf(slot: number): string {
  return `llamacpp-slot-${slot}`;
}

function commonPrefix(a: Uint32Array, b: Uint32Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
