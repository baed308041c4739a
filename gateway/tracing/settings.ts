import type { TelemetryConfig } from '../../config/telemetry.js';

// Whether traces are on, and where they go: the config's `telemetry.traces` first, then the
// standard OTEL_* environment variables (https://opentelemetry.io/docs/specs/otel/configuration/
// sdk-environment-variables/), then OTLP's defaults. Each config key wins over its variable.

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TracingSettings {
  endpoint: string;
  protocol: OtlpProtocol;
  sampleRatio: number;
  serviceName: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A setting that cannot be honoured (an unknown protocol): the gateway does not start. */
export class TracingSettingsError extends Error {
  override name = 'TracingSettingsError';
}

/**
 * The settings when traces are on, else undefined. On: the config has `telemetry.traces` (unless
 * `enabled: false`); or, without it, the environment asks for OTLP traces (`OTEL_TRACES_EXPORTER`
 * naming `otlp`, or an OTLP endpoint set) and neither `OTEL_SDK_DISABLED=true` nor
 * `OTEL_TRACES_EXPORTER=none` says otherwise.
 */
export function tracingSettings(telemetry: TelemetryConfig | undefined, env: Env): TracingSettings | undefined {
  const config = telemetry?.traces;
  if (config ? !config.enabled : !enabledByEnv(env)) return undefined;
  return {
    endpoint: config?.otlp_endpoint ?? endpointFromEnv(env),
    protocol: config?.protocol ?? protocolFromEnv(env),
    sampleRatio: config?.sample_ratio ?? ratioFromEnv(env),
    serviceName: config?.service_name ?? nonEmpty(env.OTEL_SERVICE_NAME) ?? serviceFromResource(env) ?? 'orla',
  };
}

function enabledByEnv(env: Env): boolean {
  if (nonEmpty(env.OTEL_SDK_DISABLED)?.toLowerCase() === 'true') return false;
  const exporters = nonEmpty(env.OTEL_TRACES_EXPORTER)?.split(',').map((e) => e.trim().toLowerCase());
  if (exporters) return exporters.includes('otlp');
  return nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) !== undefined || nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) !== undefined;
}

function endpointFromEnv(env: Env): string {
  const traces = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (traces) return traces; // a signal's own endpoint is used as is
  const base = nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (base) return `${base.replace(/\/+$/, '')}/v1/traces`;
  return 'http://localhost:4318/v1/traces';
}

function protocolFromEnv(env: Env): OtlpProtocol {
  const name = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const value = nonEmpty(env[name]);
  if (value === undefined) return 'http/protobuf';
  if (value === 'http/protobuf' || value === 'http/json') return value;
  throw new TracingSettingsError(`${name}: "${value}" is not supported (http/protobuf or http/json; Orla exports OTLP over HTTP)`);
}

/** The sampler's ratio: OTEL_TRACES_SAMPLER's always_on/always_off, or its *traceidratio argument. */
function ratioFromEnv(env: Env): number {
  const sampler = nonEmpty(env.OTEL_TRACES_SAMPLER)?.toLowerCase();
  if (sampler === 'always_off' || sampler === 'parentbased_always_off') return 0;
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') return 1;
  if (sampler !== undefined && !sampler.endsWith('traceidratio')) return 1;
  const arg = Number(nonEmpty(env.OTEL_TRACES_SAMPLER_ARG) ?? 1);
  return Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
}

function serviceFromResource(env: Env): string | undefined {
  for (const pair of nonEmpty(env.OTEL_RESOURCE_ATTRIBUTES)?.split(',') ?? []) {
    const [key, value] = pair.split('=');
    if (key?.trim() === 'service.name' && value) return decodeURIComponent(value.trim());
  }
  return undefined;
}

const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());
