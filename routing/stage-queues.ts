import { LRUCache } from 'lru-cache';
import type { PickContext, RequestScheduler, StageScheduler, Waiting } from './scheduler/types.js';
import type { Ticket } from './ticket.js';

/** A configured stage's queue policy: which of its requests goes next, and its share under `fair`. */
export interface StagePolicy {
  requestScheduler: RequestScheduler;
  weight: number;
}

export interface QueueEntry extends Waiting {
  readonly ticket: Ticket;
}

interface StageQueue<E> {
  readonly policy: StagePolicy;
  readonly entries: E[];
}

/**
 * The two levels of queueing in front of a backend: one queue per stage, each owning its request
 * scheduler and weight; the stage scheduler picks the queue, the queue's scheduler the request. It
 * keeps the tokens each run was served here (attained service, for `run-fair`): scheduling state,
 * as fairness counters are.
 */
export class StageQueues<E extends QueueEntry> {
  private readonly queues = new Map<string, StageQueue<E>>();
  private count = 0;
  private seq = 0;
  private readonly served = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly stageScheduler: StageScheduler,
    /** The policy of a configured stage's queues. */
    private readonly policyOf: (configuredStage: string) => StagePolicy,
    private readonly agingMs: number,
  ) {}

  get size(): number {
    return this.count;
  }

  nextSeq(): number {
    return this.seq++;
  }

  add(entry: E): void {
    let queue = this.queues.get(entry.stage);
    if (!queue) this.queues.set(entry.stage, (queue = { policy: this.policyOf(entry.stage), entries: [] }));
    queue.entries.push(entry);
    this.count++;
  }

  /** False when the entry had already left. */
  remove(entry: E): boolean {
    const queue = this.queues.get(entry.stage);
    const at = queue ? queue.entries.indexOf(entry) : -1;
    if (at < 0) return false;
    queue!.entries.splice(at, 1);
    if (queue!.entries.length === 0) this.queues.delete(entry.stage);
    this.count--;
    return true;
  }

  /** The request to serve next (the queue must not be empty). */
  next(now: number): E {
    const context: PickContext = { now, agingMs: this.agingMs, attainedService: (run) => (run ? this.served.get(run) ?? 0 : 0) };
    let queue: StageQueue<E>;
    if (this.queues.size === 1) queue = this.queues.values().next().value!;
    else {
      const queues = [...this.queues.values()];
      const views = [...this.queues].map(([stage, q]) => ({ stage, waiting: q.entries, weight: q.policy.weight }));
      queue = queues[this.stageScheduler.pick(views, context)]!;
    }
    const { entries } = queue;
    return entries.length === 1 ? entries[0]! : entries[queue.policy.requestScheduler.pick(entries, context)]!;
  }

  /** A run was served `tokens` here. */
  serve(run: string, tokens: number): void {
    this.served.set(run, (this.served.get(run) ?? 0) + tokens);
  }

  depths(): Record<string, number> {
    return Object.fromEntries([...this.queues].map(([stage, q]) => [stage, q.entries.length]));
  }
}
