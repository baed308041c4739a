import { describe, expect, it } from 'vitest';
import { simulatorCache } from '../../upstream/engines/simulator.js';
import type { EngineCall, ReleaseContext } from '../../upstream/engines/index.js';
import { SESSION_HEADER } from '../../simulator/index.js';
import { LONG_SYSTEM, post, postJson, userTurn, waitFor, withSimulator } from './helpers.js';

// Orla's simulator adapter against the simulator itself: the narrow session flush first, the global
// flush only under pressure when that freed nothing, and the simulator's refusal while busy reported.

const call: EngineCall = async (url, request) => {
  const res = await fetch(url + request.path, { method: request.method });
  return { status: res.status, text: await res.text() };
};
const pressure: ReleaseContext = { othersInFlight: false, othersCached: true, underPressure: true };
const messages = [{ role: 'system', content: LONG_SYSTEM }, userTurn('same question for both [[sim:answer ok]]')];

describe('the simulator adapter on the simulator', () => {
  it('falls back to /flush_cache when the run shares all its blocks, refused while a request waits', () =>
    withSimulator({ profile: 'instant' }, async (sim) => {
      // Both runs send the same prompt: every cached block is shared, none is run-a's alone.
      for (const run of ['run-a', 'run-b']) expect((await postJson(sim, '/v1/chat/completions', { messages }, { [SESSION_HEADER]: run })).status).toBe(200);
      const adapter = simulatorCache(call);
      const replica = { url: sim.url, inFlight: 0 };
      expect(await adapter.releaseRun('run-a', replica, { ...pressure, underPressure: false })).toEqual({ action: 'session_flush', result: 'ok', detail: '0 tokens freed' });

      sim.engine.pause();
      const queued = post(sim, '/v1/chat/completions', { messages: [userTurn('queued [[sim:answer ok]]')] });
      await waitFor(() => sim.engine.stats().waiting === 1, 'the request to queue');
      expect(await adapter.releaseRun('run-a', replica, pressure)).toMatchObject({ action: 'global_flush', result: 'refused' });
      expect(sim.engine.stats().residentBlocks).toBeGreaterThan(0);
      sim.engine.resume();
      expect((await queued).status).toBe(200);

      expect(await adapter.releaseRun('run-a', replica, pressure)).toMatchObject({ action: 'global_flush', result: 'ok' });
      expect(sim.engine.stats().residentBlocks).toBe(0);
    }));
});
