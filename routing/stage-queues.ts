import { LRUCache } from 'lru-cache';
import type { PickContext, RequestScheduler, StageScheduler, Waiting } from './scheduler/types.js';
import { SmoothWeighted } from './scheduler/weighted.js';
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
 * scheduler and weight; the stage scheduler picks the queue, the queue's scheduler the request. With
 * tenants, a tenant level comes first: when several tenants wait, they take turns by their weights,
 * and the two levels choose among the chosen tenant's requests. It keeps the tokens each run was
 * served here (attained service, for `run-fair`): scheduling state, as fairness counters are.
 */
export class StageQueues<E extends QueueEntry> {
  private readonly queues = new Map<string, StageQueue<E>>();
  private count = 0;
  private seq = 0;
  private readonly served = new LRUCache<string, number>({ max: 10_000 });
  /** Per tenant ('' for none), its requests waiting here. */
  private readonly tenants = new Map<string, number>();
  private readonly tenantTurns = new SmoothWeighted();

  constructor(
    private readonly stageScheduler: StageScheduler,
    /** The policy of a configured stage's queues. */
    private readonly policyOf: (configuredStage: string) => StagePolicy,
    private readonly agingMs: number,
    /** Each tenant's share when tenants contend; undefined without tenants. */
    private readonly tenantWeight?: (tenant: string) => number,
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
    const tenant = entry.ticket.tenant ?? '';
    this.tenants.set(tenant, (this.tenants.get(tenant) ?? 0) + 1);
  }

  /** False when the entry had already left. */
  remove(entry: E): boolean {
    const queue = this.queues.get(entry.stage);
    const at = queue ? queue.entries.indexOf(entry) : -1;
    if (at < 0) return false;
    queue!.entries.splice(at, 1);
    if (queue!.entries.length === 0) this.queues.delete(entry.stage);
    this.count--;
    const tenant = entry.ticket.tenant ?? '';
    const left = this.tenants.get(tenant)! - 1;
    if (left > 0) this.tenants.set(tenant, left);
    else this.tenants.delete(tenant);
    return true;
  }

  /** The request to serve next (the queue must not be empty). */
  next(now: number): E {
    const context: PickContext = { now, agingMs: this.agingMs, attainedService: (run) => (run ? this.served.get(run) ?? 0 : 0) };
    const queues = this.tenantWeight && this.tenants.size > 1 ? this.tenantsTurn() : this.queues;
    let queue: StageQueue<E>;
    if (queues.size === 1) queue = queues.values().next().value!;
    else {
      const views = [...queues].map(([stage, q]) => ({ stage, waiting: q.entries, weight: q.policy.weight }));
      queue = [...queues.values()][this.stageScheduler.pick(views, context)]!;
    }
    const { entries } = queue;
    return entries.length === 1 ? entries[0]! : entries[queue.policy.requestScheduler.pick(entries, context)]!;
  }

  /** Tenants contend: the queues as the tenant whose turn it is sees them (only its requests). */
  private tenantsTurn(): Map<string, StageQueue<E>> {
    const tenants = [...this.tenants.keys()];
    const turn = tenants[this.tenantTurns.pick(tenants.map((key) => ({ key, weight: this.tenantWeight!(key) })))]!;
    const mine = new Map<string, StageQueue<E>>();
    for (const [stage, q] of this.queues) {
      const entries = q.entries.filter((e) => (e.ticket.tenant ?? '') === turn);
      if (entries.length > 0) mine.set(stage, { policy: q.policy, entries });
    }
    return mine;
  }

  /** A run was served `tokens` here. */
  serve(run: string, tokens: number): void {
    this.served.set(run, (this.served.get(run) ?? 0) + tokens);
  }

  depths(): Record<string, number> {
    return Object.fromEntries([...this.queues].map(([stage, q]) => [stage, q.entries.length]));
  }
}
