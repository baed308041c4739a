import type { DurableObjectNamespace } from './cloudflare.js';
import type { BackendObject } from './backend-object.js';
import type { RunDirectoryObject, RunObject } from './run-object.js';
import type { TenantObject } from './tenant-object.js';

/** The Worker's env: its vars and secrets (strings; `${VAR}` in the config reads them) and the Durable Object bindings of wrangler.toml. */
export interface WorkersEnv {
  /** The gateway's config: the same YAML or JSON as `orla serve --config`. */
  ORLA_CONFIG?: string;
  /** How long a slot stays held by a Worker that stopped renewing it (default 30). */
  ORLA_LEASE_TTL_S?: string;
  RUNS: DurableObjectNamespace<RunObject>;
  RUN_DIRECTORY: DurableObjectNamespace<RunDirectoryObject>;
  BACKENDS: DurableObjectNamespace<BackendObject>;
  TENANTS: DurableObjectNamespace<TenantObject>;
  [name: string]: unknown;
}

/** The run directory's object: one per gateway. */
export const directoryOf = (env: WorkersEnv) => env.RUN_DIRECTORY.get(env.RUN_DIRECTORY.idFromName('runs'));
export const runOf = (env: WorkersEnv, id: string) => env.RUNS.get(env.RUNS.idFromName(id));
export const backendOf = (env: WorkersEnv, name: string) => env.BACKENDS.get(env.BACKENDS.idFromName(name));
export const tenantOf = (env: WorkersEnv, name: string) => env.TENANTS.get(env.TENANTS.idFromName(name));
