import type { Redis } from 'ioredis';
import { BEAT, LEAVE } from './fleet-lua.js';
import type { BackendLoad, FleetLink, FleetView } from './fleet-shares.js';

interface Scripts {
  orlaBeat(...args: string[]): Promise<string>;
  orlaLeave(...args: string[]): Promise<number>;
}

/** The fleet's meeting point in Redis: one script per heartbeat (routing/fleet-lua.ts). */
export class RedisFleetLink implements FleetLink {
  private readonly scripts: Scripts;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
    private readonly leaseMs: number,
  ) {
    redis.defineCommand('orlaBeat', { numberOfKeys: 0, lua: BEAT });
    redis.defineCommand('orlaLeave', { numberOfKeys: 0, lua: LEAVE });
    this.scripts = redis as unknown as Scripts;
  }

  async beat(gateway: string, loads: BackendLoad[]): Promise<FleetView> {
    return JSON.parse(await this.scripts.orlaBeat(this.keyPrefix, gateway, String(this.leaseMs), JSON.stringify(loads))) as FleetView;
  }

  async leave(gateway: string, backends: string[]): Promise<void> {
    await this.scripts.orlaLeave(this.keyPrefix, gateway, JSON.stringify(backends));
  }
}
