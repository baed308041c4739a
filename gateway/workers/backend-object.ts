import { DurableObject } from 'cloudflare:workers';
import { createBackends } from '../../routing/registry.js';
import { loadPolicies } from '../../routing/scheduler/factory.js';
import type { Outcome } from '../../routing/backend.js';
import type { UpstreamClient } from '../../upstream/clients/types.js';
import { BackendGate, type AcquireReply, type AdmissionView, type WireTicket } from './backend-gate.js';
import { edgeConfig } from './config.js';
import type { DurableObjectState } from './cloudflare.js';
import type { WorkersEnv } from './env.js';

const MAX_CONCURRENCY_KEY = 'max_concurrency';

interface LimitOverride {
  limit: number;
  /** The config's max_concurrency when it was set: a new config's value wins. */
  configured: number;
}

/**
 * One backend's admission (`BACKENDS`, by backend name), for every isolate of the gateway: its queue
 * and slots (backend-gate.ts). Every call names the backend (an object does not know its own name).
 */
export class BackendObject extends DurableObject<WorkersEnv> {
  private gate: Promise<BackendGate> | undefined;

  constructor(ctx: DurableObjectState, env: WorkersEnv) {
    super(ctx, env);
  }

  async acquire(backend: string, ticketId: string, ticket: WireTicket, leaseTtlMs: number): Promise<AcquireReply> {
    return (await this.gateOf(backend)).acquire(ticketId, ticket, leaseTtlMs);
  }
  async leave(backend: string, ticketId: string): Promise<void> {
    (await this.gateOf(backend)).leave(ticketId);
  }
  async release(backend: string, leaseId: string, outcome: Outcome, tokens: number | undefined): Promise<AdmissionView> {
    return (await this.gateOf(backend)).release(leaseId, outcome, tokens);
  }
  async renew(backend: string, leaseIds: string[], leaseTtlMs: number): Promise<AdmissionView> {
    return (await this.gateOf(backend)).renew(leaseIds, leaseTtlMs);
  }
  async view(backend: string): Promise<AdmissionView> {
    return (await this.gateOf(backend)).view();
  }
  /**
   * PATCH /v1/backends/{name}: kept in storage, so it outlives this object's restarts, until the
   * config's own max_concurrency changes.
   */
  async setMaxConcurrency(backend: string, limit: number): Promise<AdmissionView> {
    const gate = await this.gateOf(backend);
    await this.ctx.storage.put<LimitOverride>(MAX_CONCURRENCY_KEY, { limit, configured: gate.backend.config.max_concurrency });
    return gate.setMaxConcurrency(limit);
  }

  private gateOf(name: string): Promise<BackendGate> {
    this.gate ??= (async () => {
      const config = edgeConfig(this.env);
      const backends = createBackends(config, (_name, b) => b.urls!, () => NO_CLIENT, await loadPolicies(config, '/'));
      const backend = backends.get(name);
      if (!backend) throw new Error(`no backend named "${name}" in ORLA_CONFIG`);
      const override = await this.ctx.storage.get<LimitOverride>(MAX_CONCURRENCY_KEY);
      if (override && override.configured === backend.config.max_concurrency) backend.setMaxConcurrency(override.limit);
      return new BackendGate(backend);
    })().catch((err: unknown) => {
      this.gate = undefined; // a config fixed by the next deploy is read again
      throw err;
    });
    return this.gate;
  }
}

/** The object never calls an engine: the Worker holding a lease does. */
const NO_CLIENT: UpstreamClient = {
  url: '',
  request: () => Promise.reject(new Error('a backend object does not call engines')),
  describeError: () => {
    throw new Error('a backend object does not call engines');
  },
  close: async () => {},
};
