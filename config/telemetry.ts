import { z } from 'zod';

// The `telemetry:` section: OpenTelemetry traces, off unless this section (or the standard OTEL_*
// environment variables) turns them on. Each key here wins over its environment variable
// (gateway/tracing/settings.ts resolves the two).

const traces = z.strictObject({
  /** false: off, whatever the OTEL_* variables say. */
  enabled: z.boolean().default(true),
  /** The collector's OTLP/HTTP traces URL, used as is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces). */
  otlp_endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** OTLP's encoding (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL); default http/protobuf, as the OTLP spec says. */
  protocol: z.enum(['http/protobuf', 'http/json']).optional(),
  /** The share of runs traced, decided per trace id so a run is traced whole (OTEL_TRACES_SAMPLER_ARG); default 1. */
  sample_ratio: z.number().min(0).max(1).optional(),
  /** The resource's service.name (OTEL_SERVICE_NAME); default orla. */
  service_name: z.string().min(1).optional(),
});

const telemetry = z.strictObject({
  traces: traces.optional(),
});

/** Spread into the top-level config object. */
export const telemetryConfigKeys = {
  telemetry: telemetry.default({}),
};

export type TracesConfig = z.infer<typeof traces>;
export type TelemetryConfig = z.infer<typeof telemetry>;
