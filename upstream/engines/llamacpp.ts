import { listedAs, OPEN_WEIGHT_SAMPLING } from './fields.js';
import type { ActionResult, CacheAdapter, Engine, EngineCall } from './types.js';
import { gaugeValue } from './metrics-text.js';

/** How long after a failed GET /slots it is asked again. */
const RELEARN_MS = 30_000;

/** One replica's slots as Orla sees them. */
interface Slots {
  count: number | 'asking' | { failedAt: number };
  /** Requests Orla has pinned to a slot and not yet seen end. */
  busy: Map<number, number>;
  /** The run whose prefix a slot holds (Orla pinned it there last). */
  owner: Map<number, string>;
  /** A run's slots, the most recently pinned last (parallel stages each hold one). */
  slotsOf: Map<string, Set<number>>;
  /** Slots being erased: pinning one would let the erase wipe the new request's prefix. */
  erasing: Set<number>;
  /** The server answered 501: started without `--slot-save-path`. */
  noActions: boolean;
}

/**
 * llama.cpp serves `-np` slots, each running one request and caching its context. A request naming
 * a busy slot (`id_slot`) waits for it; it never moves to an idle one (server-context.cpp: "requested
 * slot is unavailable, defer task"). So Orla pins a run only to a slot that is idle: one of the run's
 * own slots where nothing of Orla's runs (the last used first), else a free one no run holds, which
 * becomes the run's too; otherwise it names no slot and llama.cpp picks one by prompt similarity, as
 * it would without Orla. Parallel stages of a run then run in parallel, each on a slot of its own,
 * and no request waits behind another run's.
 *
 * Releasing a run erases its slots (`POST /slots/{id}?action=erase`) that are idle: an erase of a
 * busy slot waits for it and would wipe whatever ran there meanwhile. Slot
 * actions need the server started with `--slot-save-path` (otherwise 501: not asked again). The
 * slot count is the config's `slots`, or learned from `GET /slots`; until it is known no slot is
 * named, since older builds hold a request for a slot they lack forever.
 */
export function llamacppCache(call: EngineCall, configuredSlots: number | undefined, now: () => number = Date.now): CacheAdapter {
  const replicas = new Map<string, Slots>();
  const slotsAt = (replica: string): Slots => {
    let slots = replicas.get(replica);
    if (!slots) {
      slots = { count: configuredSlots ?? 'asking', busy: new Map(), owner: new Map(), slotsOf: new Map(), erasing: new Set(), noActions: false };
      replicas.set(replica, slots);
      if (configuredSlots === undefined) learn(replica, slots);
    } else if (typeof slots.count === 'object' && now() - slots.count.failedAt >= RELEARN_MS) learn(replica, slots);
    return slots;
  };
  const learn = (replica: string, slots: Slots) => {
    slots.count = 'asking';
    call(replica, { method: 'GET', path: '/slots' })
      .then((res) => {
        const list = res.status === 200 ? (JSON.parse(res.text) as unknown) : undefined;
        slots.count = Array.isArray(list) && list.length > 0 ? list.length : { failedAt: now() };
      })
      .catch(() => (slots.count = { failedAt: now() }));
  };
  const idle = (slots: Slots, slot: number) => !slots.busy.get(slot) && !slots.erasing.has(slot);
  /** Erases a slot, which no request is pinned to meanwhile. */
  const erase = async (replica: string, slots: Slots, slot: number): Promise<number> => {
    slots.erasing.add(slot);
    try {
      return (await call(replica, { method: 'POST', path: `/slots/${slot}?action=erase` })).status;
    } finally {
      slots.erasing.delete(slot);
    }
  };

  return {
    tagRequest(run, replica) {
      const slots = slotsAt(replica);
      if (typeof slots.count !== 'number') return undefined; // the server picks a slot
      const own = slots.slotsOf.get(run) ?? new Set<number>();
      let slot = [...own].reverse().find((s) => idle(slots, s));
      if (slot === undefined) {
        slot = [...Array(slots.count).keys()].find((s) => idle(slots, s) && !slots.owner.has(s));
        if (slot === undefined) return undefined; // every slot busy or held: llama.cpp chooses by prompt similarity
        slots.owner.set(slot, run);
      }
      own.delete(slot);
      own.add(slot);
      slots.slotsOf.set(run, own);
      slots.busy.set(slot, (slots.busy.get(slot) ?? 0) + 1);
      const pinned = slot;
      const ended = () => {
        const left = (slots.busy.get(pinned) ?? 1) - 1;
        if (left > 0) slots.busy.set(pinned, left);
        else slots.busy.delete(pinned);
      };
      return { body: { id_slot: slot, cache_prompt: true }, ended };
    },
    async releaseRun(run, replica): Promise<ActionResult> {
      const slots = replicas.get(replica.url);
      const own = slots?.slotsOf.get(run);
      if (!slots || !own) return { action: 'slot_erase', result: 'skipped', detail: 'the run holds no slot here' };
      // Its slots are free for other runs from here on; their content is erased only where nothing runs.
      slots.slotsOf.delete(run);
      for (const slot of own) slots.owner.delete(slot);
      if (slots.noActions) return { action: 'slot_erase', result: 'unsupported', detail: 'server started without --slot-save-path' };
      const erased: number[] = [];
      const busy = [...own].filter((slot) => !idle(slots, slot));
      for (const slot of own) {
        if (busy.includes(slot)) continue;
        const status = await erase(replica.url, slots, slot);
        if (status === 501) {
          slots.noActions = true;
          return { action: 'slot_erase', result: 'unsupported', detail: 'server started without --slot-save-path' };
        }
        if (status !== 200) return { action: 'slot_erase', result: 'failed', detail: `slot ${slot}: status ${status}` };
        erased.push(slot);
      }
      const left = busy.length > 0 ? `slot ${busy.join(', ')} busy: left to llama.cpp's LRU` : '';
      if (erased.length === 0) return { action: 'slot_erase', result: 'skipped', detail: left };
      return { action: 'slot_erase', result: 'ok', detail: `slot ${erased.join(', ')}${left ? `; ${left}` : ''}` };
    },
    forget(run, replica) {
      const slots = replicas.get(replica);
      for (const slot of slots?.slotsOf.get(run) ?? []) slots!.owner.delete(slot);
      slots?.slotsOf.delete(run);
    },
    async usage(replica) {
      // Builds before the late-2025 server split export the KV gauge (with --metrics); later ones do not.
      const res = await call(replica, { method: 'GET', path: '/metrics' });
      return res.status === 200 ? gaugeValue(res.text, ['llamacpp:kv_cache_usage_ratio']) : undefined;
    },
  };
}

/** llama.cpp: no request priority; its sampling extensions and `chat_template_kwargs` (with `--jinja`). */
export const llamacpp: Engine = {
  kind: 'llamacpp',
  probePath: '/health',
  fields: [...OPEN_WEIGHT_SAMPLING, 'chat_template_kwargs'],
  serves: listedAs,
  cache: ({ call, slots }) => llamacppCache(call, slots),
};
