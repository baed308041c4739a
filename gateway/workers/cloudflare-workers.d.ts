// The part of the Workers runtime's API the Workers entry uses: `cloudflare:workers` exists only in
// workerd, and @cloudflare/workers-types would replace the DOM and Node globals the rest of the
// project is typed against.

declare module 'cloudflare:workers' {
  import type { DurableObjectState } from './cloudflare.js';

  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }
}
