import type { ClientGone } from '../cancel.js';
import type { CachePlan } from '../memory/index.js';
import type { AdmissionBackend } from '../routing/admission-backend.js';
import type { TenantPass } from '../routing/tenants.js';
import type { Target } from '../routing/types.js';
import type { Identity } from '../sessions/identity.js';
import type { RunRecord } from '../state.js';
import type { Exchange } from './exchange.js';
import type { CallTrace } from './tracing/types.js';

/**
 * One proxied request on its way through the gateway, as each step of the path left it: who it
 * belongs to (sessions), where it goes (routing), its run as it began (sessions), its cache plan
 * (memory). Steps add to it; none changes what an earlier one put there. The client's request itself
 * (`Incoming`) travels beside it only as far as the engine: a call outlives it.
 */
export interface Call {
  path: string;
  exchange: Exchange;
  identity: Identity;
  /** The target the mapper chose, and the one serving (a fallback when rerouted). */
  mapped: Target;
  target: Target;
  backend: AdmissionBackend;
  /** The call's stage: the requested one, else the configured one (its queue, its headers, its run's stages). */
  stage: string;
  /** The run's record once the call began in it; undefined for a request of no run. */
  run: RunRecord | undefined;
  plan: CachePlan | undefined;
  gone: ClientGone;
  streaming: boolean;
  stripUsageChunk: boolean;
  /** What mapping it cost (a classifier call): part of its X-Orla-Cost-Usd and its run's cost. */
  mappingCostUsd: number;
  /** Its spans (gateway/tracing/): each step reports to it; a no-op when tracing is off. */
  trace: CallTrace;
  /** Its place under its tenant's limits, once it has one. */
  tenantPass?: TenantPass | undefined;
}
