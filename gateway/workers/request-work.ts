import { AsyncLocalStorage } from 'node:async_hooks';

// A Worker's request ends with its response: workerd then cancels whatever the request started and
// is still running (a client that leaves cancels it at once), unless the request's waitUntil holds
// it. What a call does after its answer (release its slot, account it in its run, release the run's
// cache) is tracked here per request, so that the request's waitUntil covers exactly its own work.
// AsyncLocalStorage finds the request: workerd carries it into promise continuations, timers, and
// the response stream's pull and cancel.

const current = new AsyncLocalStorage<RequestWork>();

export class RequestWork {
  private readonly pending = new Set<Promise<unknown>>();

  run<T>(fn: () => T): T {
    return current.run(this, fn);
  }

  add<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const forget = () => this.pending.delete(work);
    work.then(forget, forget);
    return work;
  }

  /**
   * Resolves once nothing tracked is left, also what finished work started meanwhile: each round
   * waits a turn of the event loop, so that what a settled step starts in its continuation is seen.
   */
  async settled(): Promise<void> {
    do {
      await Promise.allSettled([...this.pending]);
      await new Promise((resolve) => setTimeout(resolve, 0));
    } while (this.pending.size > 0);
  }
}

/** Keeps `work` running until its request's work has settled (outside a request: as it is). */
export function track<T>(work: Promise<T>): Promise<T> {
  return current.getStore()?.add(work) ?? work;
}

/** `target`'s methods, each call's promise tracked (a Durable Object stub, an engine client). */
export function tracked<T extends object>(target: T): T {
  return new Proxy(target, {
    get(t, name) {
      const member = Reflect.get(t, name) as unknown;
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        // Reflect.apply: an RPC method's own `.apply` would be another remote method.
        const result: unknown = Reflect.apply(member as (...a: unknown[]) => unknown, t, args);
        return result instanceof Promise ? track(result) : result;
      };
    },
  });
}
