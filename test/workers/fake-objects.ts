import type { DurableObjectStorage } from '../../gateway/workers/cloudflare.js';

// Durable Objects' storage and RPC as far as the objects' logic sees them, in this process: values
// stored and passed are structured clones, as workerd makes them. The real objects run in workerd in
// worker.test.ts; these let the store contract hold the same logic to the in-memory store's answers.

export class MemoryStorage implements DurableObjectStorage {
  readonly data = new Map<string, unknown>();
  alarm: number | null = null;

  async get<T>(key: string): Promise<T | undefined> {
    return structuredClone(this.data.get(key)) as T | undefined;
  }
  async put<T>(key: string, value: T): Promise<void> {
    this.data.set(key, structuredClone(value));
  }
  async delete(key: string): Promise<boolean> {
    return this.data.delete(key);
  }
  async deleteAll(): Promise<void> {
    this.data.clear();
  }
  async list<T>(options: { prefix?: string } = {}): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    for (const [key, value] of [...this.data].sort(([a], [b]) => a.localeCompare(b))) {
      if (key.startsWith(options.prefix ?? '')) out.set(key, structuredClone(value) as T);
    }
    return out;
  }
  async setAlarm(at: number): Promise<void> {
    this.alarm = at;
  }
  async deleteAlarm(): Promise<void> {
    this.alarm = null;
  }
}

/** `target`'s methods as RPC would call them: arguments and answers cloned, every answer a promise. */
export function rpc<T extends object>(target: T): T {
  return new Proxy(target, {
    get(t, name) {
      const method = (t as Record<PropertyKey, unknown>)[name];
      if (typeof method !== 'function') return method;
      return async (...args: unknown[]) => structuredClone(await method.apply(t, structuredClone(args)));
    },
  });
}
