import type { Logger } from 'pino';
import { ConfigError } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { OrlaError } from '../../errors.js';
import { CircuitBreaker } from '../../routing/circuit.js';
import { createMapper } from '../../routing/mappers/factory.js';
import { Replica } from '../../routing/replica.js';
import { FetchUpstream } from '../../upstream/clients/fetch.js';
import { createApp } from '../app.js';
import { createCore, type Core } from '../core.js';
import { GatewayMetrics } from '../metrics.js';
import { webPlatform } from '../web/platform.js';
import type { ExecutionContext } from './cloudflare.js';
import { edgeConfig } from './config.js';
import { backendOf, directoryOf, runOf, tenantOf, type WorkersEnv } from './env.js';
import { workerLog } from './log.js';
import { RemoteBackend } from './remote-backend.js';
import { RemoteTenantGate } from './remote-tenants.js';
import { RequestWork, tracked } from './request-work.js';
import { DurableObjectRunStore } from './run-store.js';
import { TrackedUpstream } from './tracked-upstream.js';

// The gateway of one Worker isolate: the same app, mapping and memory as on Node (gateway/app.ts,
// core.ts) on the Web-standard platform; run state, admission and tenants' limits in Durable Objects, the engines
// reached with fetch. Built on an isolate's first request, again when ORLA_CONFIG changes.

export interface EdgeGateway {
  fetch(request: Request, env: WorkersEnv, ctx: ExecutionContext): Promise<Response>;
  /** The cron trigger: the idle sweep and a look at memory pressure, what Node does on timers. */
  scheduled(): Promise<void>;
}

const DEFAULT_LEASE_TTL_S = 30;

let current: { text: unknown; gateway: Promise<EdgeGateway> } | undefined;

export function edgeGateway(env: WorkersEnv): Promise<EdgeGateway> {
  if (current && current.text === env.ORLA_CONFIG) return current.gateway;
  const gateway = build(env);
  current = { text: env.ORLA_CONFIG, gateway };
  gateway.catch(() => {
    if (current?.gateway === gateway) current = undefined; // tried again on the next request
  });
  return gateway;
}

async function build(env: WorkersEnv): Promise<EdgeGateway> {
  try {
    return await compose(env, edgeConfig(env));
  } catch (err) {
    if (err instanceof ConfigError) return misconfigured(err, workerLog());
    throw err;
  }
}

async function compose(env: WorkersEnv, config: Config): Promise<EdgeGateway> {
  const log = workerLog(config.server.log_level);
  const metrics = new GatewayMetrics({ processMetrics: false });
  const leaseTtlS = Number(env.ORLA_LEASE_TTL_S ?? DEFAULT_LEASE_TTL_S);
  if (!(leaseTtlS > 0)) throw new ConfigError([`ORLA_LEASE_TTL_S: must be a positive number of seconds, got "${env.ORLA_LEASE_TTL_S}"`], 'the Worker\'s vars');
  const leaseTtlMs = leaseTtlS * 1000;
  const fetchFn: typeof fetch = (input, init) => fetch(input, init); // workerd's fetch refuses to be called as another object's method
  const backends = new Map<string, RemoteBackend>();
  for (const [name, backend] of Object.entries(config.backends)) {
    const timeouts = { connectMs: backend.timeouts.connect_ms, firstByteMs: backend.timeouts.first_byte_ms, idleMs: backend.timeouts.idle_ms };
    const replicas = backend.urls!.map(
      (url) => new Replica(url, new TrackedUpstream(new FetchUpstream(url, timeouts, fetchFn)), new CircuitBreaker(backend.circuit.failures, backend.circuit.open_ms)),
    );
    backends.set(
      name,
      new RemoteBackend(name, backend, replicas, () => tracked(backendOf(env, name)), {
        leaseTtlMs,
        observer: metrics,
        onError: (err) => log.warn({ err, backend: name }, 'a call to a backend\'s Durable Object failed'),
      }),
    );
  }
  const mapper = await createMapper(config, backends, { baseDir: '/', observer: metrics });
  let core!: Core;
  const store = new DurableObjectRunStore({
    run: (id) => tracked(runOf(env, id)),
    directory: () => tracked(directoryOf(env)),
    idleTtlMs: config.memory.idle_ttl_s * 1000,
    maxRuns: config.memory.max_runs,
    onExpired: (run, why) => core.memory.ended(run, why),
  });
  core = createCore(config, backends, { store, observer: metrics, log });
  const tenants = new RemoteTenantGate(config.tenants, (name) => tracked(tenantOf(env, name)), {
    leaseTtlMs,
    onError: (err) => log.warn({ err }, 'a call to a tenant\'s Durable Object failed'),
  });
  const { app } = createApp({ config, backends, mapper, core, platform: webPlatform, metrics, log, tenants });

  return {
    async fetch(request, env, ctx) {
      const work = new RequestWork();
      return work.run(async () => {
        const response = await app.fetch(request, env, ctx as never);
        if (!response.body) {
          ctx.waitUntil(work.settled());
          return response;
        }
        const { body, ended } = watched(response.body);
        ctx.waitUntil(ended.then(() => work.settled()));
        return new Response(body, response);
      });
    },
    async scheduled() {
      const work = new RequestWork();
      await work.run(async () => {
        await store.sweep(Date.now());
        if (config.memory.pressure.interval_ms > 0) await core.memory.pressure.tick();
      });
      await work.settled();
    },
  };
}

/**
 * The body as it is, and when it has ended: read to its end, failed, or cancelled by a client that
 * left. Until then the request's waitUntil holds it, so that the platform's own cancel runs (the
 * call is settled: its slot freed, its engine request aborted) instead of workerd dropping it all.
 */
function watched(source: ReadableStream<Uint8Array>): { body: ReadableStream<Uint8Array>; ended: Promise<void> } {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const reader = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) {
          controller.close();
          end();
        } else controller.enqueue(next.value);
      } catch (err) {
        controller.error(err);
        end();
      }
    },
    async cancel(reason) {
      try {
        await reader.cancel(reason);
      } finally {
        end();
      }
    },
  });
  return { body, ended };
}

/** A config that does not validate: every request is a 500 that names the key, logged once. */
function misconfigured(err: ConfigError, log: Logger): EdgeGateway {
  log.error({ problems: err.problems }, err.message);
  const error = new OrlaError(500, err.message, { type: 'invalid_request_error', code: 'invalid_config' });
  return {
    fetch: async () => new Response(error.body(), { status: 500, headers: error.headers() }),
    scheduled: async () => {},
  };
}
