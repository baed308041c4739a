import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { pino, type Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';
import { createMapper } from '../routing/mappers/factory.js';
import { verifyModels } from '../routing/mappers/verify-models.js';
import { closeBackends, createBackends } from '../routing/registry.js';
import { loadPolicies } from '../routing/scheduler/factory.js';
import { UndiciUpstream } from '../upstream/clients/undici.js';
import { createApp } from './app.js';
import { createCore } from './core.js';
import type { MemoryObserver } from '../memory/index.js';
import { GatewayMetrics } from './metrics.js';
import { nodeListener } from './node/listener.js';
import { nodePlatform } from './node/platform.js';
import { createTracing } from './tracing/index.js';

// The Node entry: in-process simulators for the backends that ask for them, undici pools for the
// rest, and the proxied routes served straight from node:http (the rest of the app through Hono).

export interface RunningGateway {
  url: string;
  port: number;
  /** Per backend, its replicas' URLs (in-process simulators listen on ephemeral ports). */
  backendUrls: Record<string, readonly string[]>;
  /** Stops accepting, lets in-flight requests finish (up to the drain timeout), then frees everything. */
  close(): Promise<void>;
  /** OpenTelemetry traces: whether they are on, and a flush of every span ended so far to the collector. */
  traces: { readonly enabled: boolean; flush(): Promise<void> };
}

export interface StartOptions {
  log?: Logger;
  /** Where module paths in the config (custom policies) are relative to; default: the working directory. */
  baseDir?: string;
  /** Where the OTEL_* variables are read; default: the process's environment. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The in-process simulators of the backends that ask for one (the embedded default); loaded only then. */
async function startEmbeddedSimulators(config: Config) {
  const embedded = Object.entries(config.backends).filter(([, b]) => b.engine === 'simulator' && !b.urls);
  if (embedded.length === 0) return [];
  const { startSimulator } = await import('../simulator/index.js');
  return Promise.all(embedded.map(async ([name, b]) => [name, await startSimulator({ profile: b.profile, speed: b.speed, port: 0 })] as const));
}

export async function startGateway(config: Config, options: StartOptions = {}): Promise<RunningGateway> {
  const log = options.log ?? pino({ level: config.server.log_level, base: undefined });
  const policies = await loadPolicies(config, options.baseDir ?? process.cwd());
  const simulators = await startEmbeddedSimulators(config);
  const simulatorUrls = new Map(simulators.map(([name, sim]) => [name, [sim.url]]));
  const metrics = new GatewayMetrics();
  // state.store redis: one of a fleet of gateways sharing runs and limits (README, "Scale-out").
  // Loaded only then: ioredis alone holds some 20 MB of a gateway's memory.
  const fleet = config.state.store === 'redis' ? await (await import('./fleet.js')).joinFleet(config, { log, observer: metrics }) : undefined;
  const backends = createBackends(
    config,
    (name, backend) => backend.urls ?? simulatorUrls.get(name)!,
    (url, timeouts) => new UndiciUpstream(url, timeouts),
    policies,
    metrics,
    fleet?.shares,
  );
  const freeAll = () => Promise.all([closeBackends(backends), ...simulators.map(([, sim]) => sim.close()), fleet?.close()]);
  const mapper = await createMapper(config, backends, { baseDir: options.baseDir ?? process.cwd(), observer: metrics }).catch(async (err: unknown) => {
    await freeAll();
    throw err;
  });
  const modelProblems = config.verify_models ? await verifyModels(config, backends) : [];
  if (modelProblems.length > 0) {
    await freeAll();
    throw new ConfigError(modelProblems);
  }
  const tracing = await createTracing(config, { env: options.env ?? process.env, log, registry: metrics.registry, queued: (name) => backends.get(name)?.queued ?? 0 }).catch(async (err: unknown) => {
    await freeAll();
    throw err;
  });
  // The last spans go out, but a collector that does not answer never holds up the stop.
  const shutdownTracing = () => Promise.race([tracing.shutdown().catch(() => undefined), new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref())]);
  // Cache actions join the trace of the call that set them off (or the run's, when none did).
  const observer: MemoryObserver = !tracing.enabled
    ? metrics
    : {
        cacheAction: (engine, action, result) => metrics.cacheAction(engine, action, result),
        runEnded: (why) => metrics.runEnded(why),
        actionRecorded: (run, action, startedAt, cause) => tracing.cacheAction(run, action, startedAt, cause),
      };
  const core = createCore(config, backends, { observer, log, ...(fleet ? { storeFor: fleet.store } : {}) });
  await fleet?.start(backends);
  core.start();
  const gateway = createApp({ config, backends, mapper, core, platform: nodePlatform, metrics, log, tenantShare: fleet?.shares, tracing });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = createServer(nodeListener(gateway, log));
    s.once('error', reject);
    s.listen(config.server.port, config.server.host, () => resolve(s));
  }).catch(async (err: unknown) => {
    // A taken port or an unknown host: free what already started, so the process can end.
    await core.stop();
    await freeAll();
    await shutdownTracing();
    throw listenFailure(err, config.server.host, config.server.port) ?? err;
  });
  server.keepAliveTimeout = 65_000; // longer than common client pools', so they never reuse a closing socket
  const port = (server.address() as AddressInfo).port;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      // A keep-alive connection becomes idle when its last response ends: close each as it does.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      const deadline = setTimeout(() => server.closeAllConnections(), config.server.drain_timeout_s * 1000);
      await drained;
      clearInterval(sweep);
      clearTimeout(deadline);
      await core.stop();
      await fleet?.close();
      await closeBackends(backends);
      await Promise.all(simulators.map(([, sim]) => sim.close()));
      await shutdownTracing();
    })());

  return {
    url: `http://${host}:${port}`,
    port,
    backendUrls: Object.fromEntries([...backends].map(([name, b]) => [name, b.replicas.map((r) => r.url)])),
    close,
    traces: { enabled: tracing.enabled, flush: () => tracing.forceFlush() },
  };
}

/** The gateway (or a simulator) could not listen: a taken port, a host that does not resolve, … */
export class ListenError extends Error {
  constructor(readonly host: string, readonly port: number, readonly code: string, cause: unknown) {
    super(`cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${REASONS[code] ?? (cause as Error).message} (${code})`, { cause });
    this.name = 'ListenError';
  }
}

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  EAI_FAIL: 'host lookup failed',
  EAFNOSUPPORT: 'address family not supported',
};

/** `err` as a ListenError when it is a failure to listen on host:port (undefined for anything else). */
export function listenFailure(err: unknown, host: string, port: number): ListenError | undefined {
  const { code, syscall } = (err ?? {}) as { code?: unknown; syscall?: unknown };
  if (typeof code !== 'string') return undefined;
  if (syscall !== 'listen' && syscall !== 'getaddrinfo' && syscall !== 'bind' && !(code in REASONS)) return undefined;
  return new ListenError(host, port, code, err);
}
