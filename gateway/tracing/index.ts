import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../../config/schema.js';
import { ConfigError } from '../../config/load.js';
import { tracingSettings, TracingSettingsError } from './settings.js';
import { NO_TRACING, type Tracing } from './types.js';

export { NO_CALL_TRACE, NO_TRACING, type CallTrace, type Tracing } from './types.js';

/** What tracing has created in this process (tests check that tracing off creates no exporter). */
export const tracingStats = { exporters: 0 };

export interface TracingDeps {
  env: Readonly<Record<string, string | undefined>>;
  log: Logger;
  registry: Registry;
  queued(backend: string): number;
}

/**
 * The gateway's tracing: nothing at all when it is off (the OpenTelemetry SDK is not even loaded),
 * otherwise the SDK with its OTLP exporter (./otel.ts), as the config and the OTEL_* variables say.
 */
export async function createTracing(config: Config, deps: TracingDeps): Promise<Tracing> {
  let settings;
  try {
    settings = tracingSettings(config.telemetry, deps.env);
  } catch (err) {
    if (err instanceof TracingSettingsError) throw new ConfigError([err.message]);
    throw err;
  }
  if (!settings) return NO_TRACING;
  const { OtelTracing } = await import('./otel.js');
  return new OtelTracing(settings, { ...deps, config, onExporter: () => tracingStats.exporters++ });
}
