// Hashing and a seeded PRNG for the simulator's content planner. Everything here is deterministic:
// the same input always hashes to the same seed, and the same seed always yields the same stream.

const MUL_A = 2654435761;
const MUL_B = 1597334677;
/** Below this many levels the hasher walks a value; deeper structure only contributes a marker. */
const MAX_HASH_DEPTH = 64;

/** A streaming two-lane 32-bit hash (cyrb53-style) over JSON-like values, built without serialising them. */
export class Hasher {
  private a = 0xdeadbeef | 0;
  private b = 0x41c6ce57 | 0;

  private tag(code: number): void {
    this.a = Math.imul(this.a ^ (0x10000 + code), MUL_A);
    this.b = Math.imul(this.b ^ (0x10000 + code), MUL_B);
  }

  str(s: string): this {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, MUL_A);
      b = Math.imul(b ^ c, MUL_B);
    }
    // The length closes the string, so ["ab","c"] and ["a","bc"] differ.
    this.a = Math.imul(a ^ (0x20000 + s.length), MUL_A);
    this.b = Math.imul(b ^ (0x20000 + s.length), MUL_B);
    return this;
  }

  value(v: unknown, depth = 0): this {
    if (typeof v === 'string') {
      this.tag(1);
      return this.str(v);
    }
    if (typeof v === 'number' || typeof v === 'bigint') {
      this.tag(2);
      return this.str(String(v));
    }
    if (typeof v === 'boolean') {
      this.tag(v ? 3 : 4);
      return this;
    }
    if (v === null || typeof v !== 'object') {
      this.tag(5);
      return this;
    }
    if (depth >= MAX_HASH_DEPTH) {
      this.tag(10);
      return this;
    }
    if (Array.isArray(v)) {
      this.tag(6);
      for (const item of v) this.value(item, depth + 1);
      this.tag(7);
      return this;
    }
    this.tag(8);
    for (const [key, item] of Object.entries(v)) {
      this.str(key);
      this.value(item, depth + 1);
    }
    this.tag(9);
    return this;
  }

  /** A well-mixed 32-bit unsigned digest of everything fed so far. */
  digest(): number {
    let h1 = this.a;
    let h2 = this.b;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (h1 ^ Math.imul(h2, 0x9e3779b1)) >>> 0;
  }
}

/** mulberry32: tiny, fast, good enough for plausible-looking content. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi] (both inclusive); lo when the range is empty. */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) return lo;
    return Math.min(hi, lo + Math.floor(this.next() * (hi - lo + 1)));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `length` lowercase hex digits. */
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += (this.int(0, 0xffff) | 0x10000).toString(16).slice(1);
    return out.slice(0, length);
  }
}
