import type { Config } from './schema.js';
import { validateConfig } from './load.js';

/**
 * The embedded default: two in-process simulated engines and the customer-support workflow's stages
 * mapped as in the Orla paper (classify on the light model; the rest on the heavy one).
 */
export function defaultConfig(overrides: { host?: string; port?: number } = {}): Config {
  return validateConfig({
    server: { host: overrides.host ?? '127.0.0.1', port: overrides.port ?? 8080 },
    backends: {
      light: { engine: 'simulator', profile: 'qwen3-4b-h100', price: { input_per_mtok: 0.05, output_per_mtok: 0.2 } },
      heavy: { engine: 'simulator', profile: 'qwen3-8b-h100', price: { input_per_mtok: 0.1, output_per_mtok: 0.4 } },
    },
    stages: {
      classify: { backend: 'light', model: 'Qwen/Qwen3-4B', params: { temperature: 0 } },
      policy_check: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
      route_ticket: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
      reply: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
      default: { backend: 'heavy', model: 'Qwen/Qwen3-8B' },
    },
  }, { source: 'the embedded default', env: {} });
}
