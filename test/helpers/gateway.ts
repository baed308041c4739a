import { pino, type Logger } from 'pino';
import { validateConfig } from '../../config/load.js';
import { startGateway, type RunningGateway } from '../../gateway/server.js';

/**
 * A gateway on an ephemeral port with the given config (its `server.port` forced to 0), logging
 * nothing unless `options.log` is given (see capturedLog in ./log.ts).
 */
export async function startTestGateway(config: Record<string, unknown>, baseDir?: string, options: { log?: Logger; env?: Record<string, string> } = {}): Promise<RunningGateway> {
  // No background scraping unless a test asks: engines should see only what the test sends.
  const memory = (config.memory ?? {}) as { pressure?: object };
  const withQuietMemory = { ...config, memory: { ...memory, pressure: { interval_ms: 0, ...memory.pressure } } };
  const resolved = validateConfig(withQuietMemory, { env: {} });
  resolved.server.port = 0;
  // Node's fetch can leave a connection open after an abort; do not wait the production 30 s for it.
  resolved.server.drain_timeout_s = 0.2;
  // OTEL_* variables of the machine never turn tracing on in a test: only `options.env` does.
  return startGateway(resolved, { log: options.log ?? pino({ level: 'silent' }), env: options.env ?? {}, ...(baseDir ? { baseDir } : {}) });
}

/** A config of two backends at the given URLs, stages mapped the customer-support way. */
export function twoBackendConfig(lightUrl: string, heavyUrl: string, extra: { server?: object; light?: object; heavy?: object } = {}) {
  return {
    server: { ...extra.server },
    backends: {
      light: { engine: 'vllm', urls: [lightUrl], ...extra.light },
      heavy: { engine: 'vllm', urls: [heavyUrl], ...extra.heavy },
    },
    stages: {
      classify: { backend: 'light', model: 'light-model', params: { temperature: 0 } },
      reply: { backend: 'heavy', model: 'heavy-model' },
      default: { backend: 'heavy', model: 'heavy-model' },
    },
  };
}
