import type { ActionResult, EngineAdapter, EngineCall } from '../types.js';

/**
 * llama.cpp serves `-np` slots, each holding one context. Orla gives each run a slot on its replica
 * (`id_slot`, with `cache_prompt` so the slot's prefix is reused) and erases it when the run is
 * released (`POST /slots/{id}?action=erase`). With more runs than slots, runs share a slot: it is
 * erased only when the last run assigned to it is released.
 */
export function llamacppAdapter(call: EngineCall, slots: number): EngineAdapter {
  const assigned = new Map<string, Map<string, number>>(); // replica → run → slot
  const slotOf = (replica: string, run: string) => {
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
      body.id_slot = slotOf(replica, run);
      body.cache_prompt = true;
    },
    async releaseRun(run, replica): Promise<ActionResult> {
      const slot = assigned.get(replica.url)?.get(run);
      if (slot === undefined) return { action: 'slot_erase', result: 'skipped', detail: 'the run holds no slot here' };
      const runs = assigned.get(replica.url)!;
      runs.delete(run);
      // Another run still uses or caches this slot: erasing it would wipe that run's prefix.
      if ([...runs.values()].includes(slot)) return { action: 'slot_erase', result: 'skipped', detail: `slot ${slot} is shared with another run` };
      const res = await call(replica.url, { method: 'POST', path: `/slots/${slot}?action=erase` });
      return res.status === 200
        ? { action: 'slot_erase', result: 'ok', detail: `slot ${slot}` }
        : { action: 'slot_erase', result: res.status === 501 ? 'unsupported' : 'failed', detail: `status ${res.status}` };
    },
  };
}

function hashSlot(run: string, slots: number): number {
  let h = 0;
  for (let i = 0; i < run.length; i++) h = (h * 31 + run.charCodeAt(i)) | 0;
  return Math.abs(h) % slots;
}
