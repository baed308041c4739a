import { Pool } from 'undici';

// A closed-loop load generator: `connections` workers, each sending its next request as soon as the
// last one finished, for a bounded number of requests. Latency is measured to the last byte; for
// streams, time to first byte is the first body chunk.

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
  firstByteMs: number[];
}

/** Per worker, what adds each of its requests' own headers (the fleet bench tags runs this way). */
export type WorkerHeaders = () => () => Record<string, string>;

/** `urls`: one, or several sharing a path (each request to the next in turn). */
export async function runLoad(urls: string | string[], body: string, connections: number, requests: number, workerHeaders?: WorkerHeaders): Promise<LoadResult> {
  const targets = (Array.isArray(urls) ? urls : [urls]).map((url) => new URL(url));
  const pools = targets.map((target) => new Pool(target.origin, { connections, keepAliveTimeout: 30_000 }));
  const path = targets[0]!.pathname;
  const result: LoadResult = { requests: 0, errors: 0, seconds: 0, latenciesMs: [], firstByteMs: [] };
  let issued = 0;
  let turn = 0;
  const started = performance.now();
  const worker = async () => {
    const extra = workerHeaders?.();
    while (issued < requests) {
      issued++;
      const pool = pools[turn++ % pools.length]!;
      const t0 = performance.now();
      try {
        const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', ...extra?.() }, body });
        let first: number | undefined;
        for await (const _chunk of res.body) first ??= performance.now();
        if (res.statusCode !== 200) result.errors++;
        const done = performance.now();
        result.latenciesMs.push(done - t0);
        result.firstByteMs.push((first ?? done) - t0);
      } catch {
        result.errors++;
      }
      result.requests++;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  result.seconds = (performance.now() - started) / 1000;
  await Promise.all(pools.map((p) => p.close()));
  return result;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}
