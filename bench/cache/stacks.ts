// The three stacks bench:cache compares: a gateway (`orla serve`) in front of its own simulated
// Qwen3-8B/H100 engine (`orla sim --speed X`), differing only in the gateway's `memory:` section.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startCompiled, type Started } from '../processes.js';

export const MODEL = 'Qwen/Qwen3-8B';
const KV_CAPACITY = 350_000; // the qwen3-8b-h100 profile's

export type PolicyName = 'flush-per-request' | 'flush-per-workflow' | 'orla';

export interface Policy {
  name: PolicyName;
  label: string;
  color: string;
  memory: Record<string, unknown>;
  /** Tell the gateway the backend's kv_capacity_tokens, so the ledger joins the pressure monitor. */
  kvCapacity: boolean;
}

export interface Stack {
  policy: Policy;
  sim: Started;
  orla: Started;
  pool: Pool;
}

/** The policies, with the gateway's timers kept in engine time (the defaults divided by the speed-up). */
export function policies(speed: number): Policy[] {
  const engineMs = (ms: number) => Math.max(1, Math.round(ms / speed));
  const idleTtlS = 600 / speed;
  return [
    {
      name: 'flush-per-request',
      label: 'flush-per-request',
      color: '#d62728',
      memory: { policy: 'flush-per-request', idle_ttl_s: idleTtlS, pressure: { interval_ms: engineMs(2_000) } },
      kvCapacity: false,
    },
    {
      name: 'flush-per-workflow',
      label: 'flush-per-workflow (policy alone)',
      color: '#1f77b4',
      memory: { policy: 'flush-per-workflow', idle_ttl_s: idleTtlS, pressure: { interval_ms: 0 } },
      kvCapacity: false,
    },
    {
      name: 'orla',
      label: "Orla's automatic rules",
      color: '#2ca02c',
      memory: { policy: 'flush-per-workflow', idle_ttl_s: idleTtlS, pressure: { high: 0.9, low: 0.75, interval_ms: engineMs(2_000) } },
      kvCapacity: true,
    },
  ];
}

const configDir = mkdtempSync(join(tmpdir(), 'orla-bench-cache-'));

export async function startStack(policy: Policy, speed: number): Promise<Stack> {
  const sim = await startCompiled('cli/main.ts', ['sim', '--profile', 'qwen3-8b-h100', '--speed', String(speed), '--port', '0'], `${policy.name} engine`);
  const file = join(configDir, `${policy.name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      server: { log_level: 'warn' },
      backends: {
        engine: {
          engine: 'simulator',
          urls: [sim.url],
          max_concurrency: 64,
          ...(policy.kvCapacity ? { kv_capacity_tokens: KV_CAPACITY } : {}),
        },
      },
      stages: { default: { backend: 'engine', model: MODEL, params: { temperature: 0 } } },
      memory: policy.memory,
    }),
  );
  const orla = await startCompiled('cli/main.ts', ['serve', '--config', file, '--port', '0'], `${policy.name} gateway`);
  return { policy, sim, orla, pool: new Pool(orla.url, { connections: 16, keepAliveTimeout: 60_000 }) };
}

export async function stopStack(stack: Stack): Promise<void> {
  await stack.pool.close();
  await stack.orla.stop();
  await stack.sim.stop();
}
