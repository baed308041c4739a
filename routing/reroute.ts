import type { Backend } from './backend.js';
import type { Target } from './types.js';

/**
 * The primary target unless its backend cannot serve soon: every replica's circuit open, or an
 * estimated queue wait over the stage's `reroute_wait_ms`. Then the first fallback that can.
 */
export function chooseTarget(target: Target, backends: ReadonlyMap<string, Backend>): { target: Target; rerouted: boolean } {
  if (servesSoon(backends.get(target.backend)!, target)) return { target, rerouted: false };
  for (const fallback of target.fallbacks) {
    if (servesSoon(backends.get(fallback.backend)!, target)) return { target: fallback, rerouted: true };
  }
  return { target, rerouted: false }; // nothing better: the primary answers (queue, or 503)
}

function servesSoon(backend: Backend, target: Target): boolean {
  if (backend.circuitOpen()) return false;
  return target.rerouteWaitMs === undefined || backend.estimatedWaitMs() <= target.rerouteWaitMs;
}
