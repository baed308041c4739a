import type { CircuitState } from './circuit.js';

/** What routing reports as it works (the gateway turns it into metrics); every method optional. */
export interface RoutingObserver {
  queueDepth?(backend: string, stage: string, delta: number): void;
  waited?(backend: string, stage: string, ms: number): void;
  rejected?(backend: string, reason: 'queue_full' | 'deadline' | 'circuit_open'): void;
  circuit?(backend: string, replica: string, state: CircuitState): void;
  inFlight?(backend: string, stage: string, delta: number): void;
}
