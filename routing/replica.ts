import type { CircuitBreaker } from './circuit.js';
import type { UpstreamClient } from '../upstream/clients/types.js';

/** One server of a backend's model: its client, its circuit, and the requests Orla has in flight on it. */
export class Replica {
  inFlight = 0;
  /** Requests the fleet's other gateways have in flight here, as of their latest heartbeat (0 on its own). */
  elsewhere = 0;
  constructor(readonly url: string, readonly client: UpstreamClient, readonly circuit: CircuitBreaker) {}
}
