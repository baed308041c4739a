import type { AdmissionBackend } from './admission-backend.js';
import type { Target } from './types.js';

/**
 * The primary target unless its backend cannot serve soon: every replica's circuit open, or an
 * estimated queue wait over the stage's `reroute_wait_ms`. Then the first fallback that can.
 */
export function chooseTarget(target: Target, backends: ReadonlyMap<string, AdmissionBackend>): { target: Target; rerouted: boolean } {
  if (servesSoon(backends.get(target.backend)!, target)) return { target, rerouted: false };
  for (const fallback of target.fallbacks) {
    if (servesSoon(backends.get(fallback.backend)!, target)) return { target: fallback, rerouted: true };
  }
  return { target, rerouted: false }; // nothing better: the primary answers (queue, or 503)
}

/** Only a known wait counts: until its drain rate is known (a cold start) a backend is not passed over. */
function servesSoon(backend: AdmissionBackend, target: Target): boolean {
  if (backend.circuitOpen()) return false;
  const wait = backend.estimatedWaitMs();
  return target.rerouteWaitMs === undefined || !Number.isFinite(wait) || wait <= target.rerouteWaitMs;
}
