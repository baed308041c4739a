import { hashHex } from '../../hash.js';
import type { Replica } from '../replica.js';
import type { Ticket } from '../ticket.js';
import { overloaded, type Balance, type ReplicaPicker } from './types.js';

/**
 * A request of no run (a prompt-only completion, an embedding) goes to the replica its prompt's
 * opening hashes to, so requests that share a prefix meet where it is cached; under the same
 * balance rule as affinity, else the next picker decides.
 */
export class PrefixHash implements ReplicaPicker {
  readonly name = 'prefix-hash';

  constructor(private readonly balance: Balance, private readonly next: ReplicaPicker) {}

  pick(free: readonly Replica[], all: readonly Replica[], ticket: Ticket): Replica {
    const hashed = ticket.prefixHash === undefined || all.length < 2 ? undefined : all[ticket.prefixHash % all.length];
    if (hashed && hashed !== ticket.avoid && free.includes(hashed) && !overloaded(hashed, free, this.balance)) return hashed;
    return this.next.pick(free, all, ticket);
  }
}

/** How much of a prompt places it: about a cache block run of a shared instruction or few-shot prefix. */
const OPENING_CHARS = 1024;

/** A hash of the opening of a request's prompt, whatever its route's shape; undefined without one. */
export function prefixHashOf(body: Readonly<Record<string, unknown>>): number | undefined {
  let source = Array.isArray(body.messages) ? (body.messages[0] as { content?: unknown } | undefined)?.content : (body.prompt ?? body.input);
  if (Array.isArray(source) && typeof source[0] !== 'number') source = source[0]; // a batch or content parts: the first
  if (Array.isArray(source)) source = JSON.stringify(source.slice(0, 256)); // token ids
  else if (source !== null && typeof source === 'object') source = (source as { text?: unknown }).text; // a text part
  return typeof source === 'string' ? parseInt(hashHex(source.slice(0, OPENING_CHARS)).slice(-8), 16) : undefined;
}
