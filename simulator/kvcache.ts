// vLLM-style automatic prefix caching over a paged KV cache (vllm/v1/core/block_pool.py and
// kv_cache_manager.py): fixed-size blocks, each full block named by a hash chained on its parent's
// hash, so a block is reused only when the whole prefix before it matches. `cache_salt` seeds the
// chain, so requests with different salts never share a block. Blocks held by running requests are
// reference-counted; a freed block stays resident (and hittable) until LRU eviction reclaims it.

export interface CacheBlock {
  hash: number;
  refCount: number;
  /** The one session that touched the block ('' = requests without a session)… */
  owner: string;
  /** …unless several did. */
  shared: boolean;
}

/** KV blocks one request holds while it runs. */
export interface KvAllocation {
  readonly session: string;
  /** Full, hashed blocks in sequence order (shared with other requests and the cache). */
  held: CacheBlock[];
  /** Reserved blocks not (yet) full: the request's own. */
  privateBlocks: number;
  /** Prompt tokens served from the cache. */
  cachedTokens: number;
}

/**
 * Blocks kept resident on behalf of an owner that outlives its requests (an SGLang session): each
 * holds one reference, so LRU eviction never reclaims them until the set is released.
 */
export class PinSet {
  readonly blocks = new Set<CacheBlock>();
  /** Released for good (the session closed): requests still finishing pin nothing more into it. */
  closed = false;
}

export interface CacheStats {
  /** Blocks in use by running requests / all blocks (what vllm:kv_cache_usage_perc reports). */
  usage: number;
  /** Hashed blocks resident in the cache, running or idle. */
  residentBlocks: number;
  idleBlocks: number;
  totalBlocks: number;
  /** Prompt tokens looked up / found in the cache (vllm:prefix_cache_queries / _hits). */
  queryTokens: number;
  hitTokens: number;
}

const HASH_SPLIT = 0x200000; // 2^21: hashes are 53-bit numbers built from two 32-bit lanes

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hash of a block: its parent's hash and its tokens (53 bits, so collisions stay negligible). */
export function blockHash(parent: number, tokens: Uint32Array, from: number, to: number): number {
  let a = (Math.floor(parent / HASH_SPLIT) ^ 0x9e3779b9) | 0;
  let b = ((parent % HASH_SPLIT) ^ 0x7f4a7c15) | 0;
  for (let i = from; i < to; i++) {
    const token = tokens[i]!;
    a = Math.imul(a ^ token, 0xcc9e2d51);
    a = (a << 15) | (a >>> 17);
    b = Math.imul(b ^ token, 0x1b873593);
    b = ((b << 13) | (b >>> 19)) + a;
  }
  return fmix32(a) * HASH_SPLIT + (fmix32(b ^ to) >>> 11);
}

/** Root of a hash chain: 0, or derived from the salt so salted requests form their own chains. */
export function chainRoot(salt: string | undefined): number {
  if (!salt) return 0;
  const codes = new Uint32Array(salt.length);
  for (let i = 0; i < salt.length; i++) codes[i] = salt.charCodeAt(i);
  return blockHash(1, codes, 0, codes.length);
}

export class PrefixCache {
  readonly totalBlocks: number;
  private readonly resident = new Map<number, CacheBlock>();
  /** Resident blocks no request holds, least recently freed first: the eviction order. */
  private readonly idle = new Map<number, CacheBlock>();
  /** Blocks only this session touched, for the narrow flush. */
  private readonly bySession = new Map<string, Set<CacheBlock>>();
  private heldHashedBlocks = 0;
  private privateBlocks = 0;
  private queryTokens = 0;
  private hitTokens = 0;

  constructor(capacityTokens: number, readonly blockSize: number) {
    this.totalBlocks = Math.max(1, Math.floor(capacityTokens / blockSize));
  }

  /** Hashes of the full blocks of `tokens[0, length)`, continuing a chain from `parent`. */
  hashBlocks(tokens: Uint32Array, length: number, parent: number, out: number[] = []): number[] {
    for (let start = out.length * this.blockSize; start + this.blockSize <= length; start += this.blockSize) {
      parent = blockHash(parent, tokens, start, start + this.blockSize);
      out.push(parent);
    }
    return out;
  }

  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  /**
   * Reserves blocks for a sequence of `totalTokens`, reusing the longest cached prefix among the
   * prompt's block hashes. Null when the cache cannot make room (the request keeps waiting).
   */
  allocate(promptHashes: readonly number[], promptTokens: number, totalTokens: number, session: string): KvAllocation | null {
    // As vLLM, at least one prompt token is always computed, so a full hit stops a block short.
    const maxHitBlocks = Math.min(promptHashes.length, Math.floor((promptTokens - 1) / this.blockSize));
    let hitBlocks = 0;
    let idleHits = 0;
    for (; hitBlocks < maxHitBlocks; hitBlocks++) {
      const block = this.resident.get(promptHashes[hitBlocks]!);
      if (!block) break;
      if (block.refCount === 0) idleHits++;
    }
    const newBlocks = this.blocksFor(totalTokens) - hitBlocks;
    if (newBlocks > this.freeBlocks() + this.idle.size - idleHits) return null;

    const held: CacheBlock[] = [];
    for (let i = 0; i < hitBlocks; i++) held.push(this.acquire(this.resident.get(promptHashes[i]!)!, session));
    while (this.freeBlocks() < newBlocks) this.evictOne();
    this.privateBlocks += newBlocks;
    this.queryTokens += promptTokens;
    this.hitTokens += hitBlocks * this.blockSize;
    return { session, held, privateBlocks: newBlocks, cachedTokens: hitBlocks * this.blockSize };
  }

  /** Caches the request's first `fullBlocks` blocks once full and computed; `hashes[i]` names block i. */
  commit(allocation: KvAllocation, hashes: readonly number[], fullBlocks: number): void {
    const end = Math.min(fullBlocks, hashes.length);
    for (let i = allocation.held.length; i < end; i++) {
      const hash = hashes[i]!;
      let block = this.resident.get(hash);
      if (!block) {
        block = { hash, refCount: 0, owner: allocation.session, shared: false };
        this.resident.set(hash, block);
        this.indexSession(block);
      }
      // The reserved block now has a name; when another request computed the same block
      // meanwhile, share that one and give ours back.
      allocation.privateBlocks--;
      this.privateBlocks--;
      allocation.held.push(this.acquire(block, allocation.session));
    }
  }

  release(allocation: KvAllocation): void {
    // vLLM frees a request's blocks in reverse, so that its tail is evicted before its prefix.
    for (let i = allocation.held.length - 1; i >= 0; i--) this.releaseBlock(allocation.held[i]!);
    this.privateBlocks -= allocation.privateBlocks;
    allocation.held = [];
    allocation.privateBlocks = 0;
  }

  /** Pins the request's full blocks into `pins` (once per block), so they outlive the request. */
  pin(pins: PinSet, allocation: KvAllocation): void {
    if (pins.closed) return;
    for (const block of allocation.held) {
      if (pins.blocks.has(block)) continue;
      pins.blocks.add(block);
      this.acquire(block, allocation.session);
    }
  }

  /** Releases every block `pins` holds; they become idle (and evictable) unless a request holds them. */
  unpin(pins: PinSet): void {
    for (const block of pins.blocks) this.releaseBlock(block);
    pins.blocks.clear();
  }

  /** Forgets the idle blocks among `hashes` (a llama.cpp slot overwriting what it held); held blocks stay. */
  forgetIdle(hashes: readonly number[]): void {
    for (const hash of hashes) {
      const block = this.idle.get(hash);
      if (block) this.forget(block);
    }
  }

  /** Drops every cached block; refused (false) while any block is held, as vLLM's BlockPool does. */
  reset(): boolean {
    if (this.heldHashedBlocks + this.privateBlocks > 0) return false;
    this.resident.clear();
    this.idle.clear();
    this.bySession.clear();
    return true;
  }

  /** Frees the idle blocks that only `session` touched; returns the tokens freed. */
  flushSession(session: string): number {
    const blocks = this.bySession.get(session);
    if (!blocks) return 0;
    let freed = 0;
    for (const block of blocks) {
      if (block.refCount > 0) continue;
      this.forget(block);
      freed++;
    }
    if (blocks.size === 0) this.bySession.delete(session);
    return freed * this.blockSize;
  }

  stats(): CacheStats {
    return {
      usage: (this.heldHashedBlocks + this.privateBlocks) / this.totalBlocks,
      residentBlocks: this.resident.size,
      idleBlocks: this.idle.size,
      totalBlocks: this.totalBlocks,
      queryTokens: this.queryTokens,
      hitTokens: this.hitTokens,
    };
  }

  private freeBlocks(): number {
    return this.totalBlocks - this.heldHashedBlocks - this.privateBlocks - this.idle.size;
  }

  private acquire(block: CacheBlock, session: string): CacheBlock {
    if (block.refCount++ === 0) {
      this.heldHashedBlocks++;
      this.idle.delete(block.hash);
    }
    if (!block.shared && block.owner !== session) {
      this.bySession.get(block.owner)?.delete(block);
      block.shared = true;
    }
    return block;
  }

  private releaseBlock(block: CacheBlock): void {
    if (--block.refCount > 0) return;
    this.heldHashedBlocks--;
    if (this.resident.get(block.hash) === block) this.idle.set(block.hash, block);
  }

  private evictOne(): void {
    const oldest = this.idle.values().next();
    if (oldest.done) throw new Error('KV cache accounting error: nothing left to evict');
    this.forget(oldest.value);
  }

  private forget(block: CacheBlock): void {
    this.resident.delete(block.hash);
    this.idle.delete(block.hash);
    if (!block.shared) {
      const owned = this.bySession.get(block.owner);
      owned?.delete(block);
      if (owned?.size === 0) this.bySession.delete(block.owner);
    }
  }

  private indexSession(block: CacheBlock): void {
    if (!block.owner) return; // requests without a session cannot be flushed by session
    let owned = this.bySession.get(block.owner);
    if (!owned) this.bySession.set(block.owner, (owned = new Set()));
    owned.add(block);
  }
}
