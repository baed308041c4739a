import type { ExecutionContext, ScheduledController } from './workers/cloudflare.js';
import type { WorkersEnv } from './workers/env.js';
import { edgeGateway } from './workers/gateway.js';

// The Cloudflare Workers entry (wrangler.toml's `main`): the gateway of gateway/workers/gateway.ts,
// and the Durable Object classes the bindings name.

export { BackendObject } from './workers/backend-object.js';
export { RunDirectoryObject, RunObject } from './workers/run-object.js';
export { TenantObject } from './workers/tenant-object.js';

export default {
  async fetch(request: Request, env: WorkersEnv, ctx: ExecutionContext): Promise<Response> {
    return (await edgeGateway(env)).fetch(request, env, ctx);
  },
  async scheduled(_controller: ScheduledController, env: WorkersEnv, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(edgeGateway(env).then((gateway) => gateway.scheduled()));
  },
};
