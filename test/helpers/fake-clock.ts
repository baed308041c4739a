import { afterEach, beforeEach, vi } from 'vitest';

// A faked clock for the tests of one file: timers, Date and performance.now move only when a test
// advances them, so a lease or a pass can outlive its TTL without anyone waiting for it.

/** Fakes the clock before each test of the calling file, and restores the real one after. */
export function useFakeClock(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** Whether `promise` has settled by now (it never settles by waiting here). */
export async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true), () => (done = true));
  await vi.advanceTimersByTimeAsync(0);
  return done;
}
