/**
 * At most `limit` tasks at once per key; the rest wait their turn, first come first served. A burst
 * of releases (a thousand runs evicted at once for room) would otherwise send a thousand cache
 * calls to one replica at once, each on a connection of its own, with every run's record held
 * until its call returns.
 */
export class KeyedLimiter {
  private readonly running = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly limit: number) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const active = this.running.get(key) ?? 0;
    if (active >= this.limit) await new Promise<void>((resolve) => this.waitingFor(key).push(resolve));
    else this.running.set(key, active + 1);
    try {
      return await task();
    } finally {
      const next = this.waiting.get(key)?.shift();
      if (next) next(); // its slot passes on: the count stays
      else {
        const left = this.running.get(key)! - 1;
        if (left > 0) this.running.set(key, left);
        else this.running.delete(key);
      }
      if (this.waiting.get(key)?.length === 0) this.waiting.delete(key);
    }
  }

  private waitingFor(key: string): (() => void)[] {
    let list = this.waiting.get(key);
    if (!list) this.waiting.set(key, (list = []));
    return list;
  }
}
