import type { ActionResult, EngineAdapter, EngineCall } from '../types.js';

/** How long after a failed GET /slots it is asked again. */
const RELEARN_MS = 30_000;

/**
 * llama.cpp serves `-np` slots, each holding one context. Orla gives each run a slot on its replica
 * (`id_slot`, with `cache_prompt` so the slot's prefix is reused) and erases it when the run is
 * released (`POST /slots/{id}?action=erase`). With more runs than slots, runs share a slot: it is
 * erased only when the last run assigned to it is released. The manager releases a run on every
 * replica its requests were tagged on (a failed or retried attempt too), so assignments last only
 * as long as their runs.
 *
 * The slot count is the config's `slots`, or else learned from `GET /slots` (one entry per slot):
 * until it is known no slot is named, since llama.cpp holds a request for a slot it does not have
 * forever. Slot actions need the server started with `--slot-save-path`; without it they answer
 * 501, and Orla stops asking that replica.
 */
export function llamacppAdapter(call: EngineCall, configuredSlots: number | undefined, now: () => number = Date.now): EngineAdapter {
  const assigned = new Map<string, Map<string, number>>(); // replica → run → slot
  // replica → its slot count, 'asking', or when asking failed (asked again after RELEARN_MS: a
  // server still loading its model refuses at first)
  const learned = new Map<string, number | 'asking' | { failedAt: number }>();
  const noSlotActions = new Set<string>(); // replicas that answered 501
  const slotsOf = (replica: string): number | undefined => {
    if (configuredSlots !== undefined) return configuredSlots;
    const known = learned.get(replica);
    if (known === undefined || (typeof known === 'object' && now() - known.failedAt >= RELEARN_MS)) {
      learned.set(replica, 'asking');
      call(replica, { method: 'GET', path: '/slots' })
        .then((res) => {
          const slots = res.status === 200 ? (JSON.parse(res.text) as unknown) : undefined;
          learned.set(replica, Array.isArray(slots) && slots.length > 0 ? slots.length : { failedAt: now() });
        })
        .catch(() => learned.set(replica, { failedAt: now() }));
    }
    return typeof known === 'number' ? known : undefined;
  };
  const slotOf = (replica: string, run: string, slots: number) => {
    let runs = assigned.get(replica);
    if (!runs) assigned.set(replica, (runs = new Map()));
    let slot = runs.get(run);
    if (slot === undefined) {
      const taken = new Set(runs.values());
      slot = [...Array(slots).keys()].find((s) => !taken.has(s)) ?? hashSlot(run, slots);
      runs.set(run, slot);
    }
    return slot;
  };
  return {
    engine: 'llamacpp',
    tagRequest(run, replica, body) {
      const slots = slotsOf(replica);
      if (slots === undefined) return; // the server picks a slot
      body.id_slot = slotOf(replica, run, slots);
      body.cache_prompt = true;
    },
    async releaseRun(run, replica): Promise<ActionResult> {
      const slot = assigned.get(replica.url)?.get(run);
      if (slot === undefined) return { action: 'slot_erase', result: 'skipped', detail: 'the run holds no slot here' };
      const runs = assigned.get(replica.url)!;
      runs.delete(run);
      // Another run still uses or caches this slot: erasing it would wipe that run's prefix.
      if ([...runs.values()].includes(slot)) return { action: 'slot_erase', result: 'skipped', detail: `slot ${slot} is shared with another run` };
      if (noSlotActions.has(replica.url)) return { action: 'slot_erase', result: 'unsupported', detail: 'server started without --slot-save-path' };
      const res = await call(replica.url, { method: 'POST', path: `/slots/${slot}?action=erase` });
      if (res.status === 200) return { action: 'slot_erase', result: 'ok', detail: `slot ${slot}` };
      if (res.status !== 501) return { action: 'slot_erase', result: 'failed', detail: `status ${res.status}` };
      noSlotActions.add(replica.url);
      return { action: 'slot_erase', result: 'unsupported', detail: 'server started without --slot-save-path' };
    },
  };
}

function hashSlot(run: string, slots: number): number {
  let h = 0;
  for (let i = 0; i < run.length; i++) h = (h * 31 + run.charCodeAt(i)) | 0;
  return Math.abs(h) % slots;
}
