/**
 * OpenTelemetry traces, off unless the standard environment asks for them: `OTEL_TRACES_EXPORTER=otlp`
 * or an `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`; `OTEL_SDK_DISABLED=true` wins. Spans go out over
 * OTLP/HTTP; the SDK reads the rest of `OTEL_*` (service name, resource attributes, batch delays).
 *
 * nightjar makes its own spans (a run, a batch and its phases, see `spans.ts`) and instruments pg
 * with `requireParentSpan`, so only queries inside a batch or run show up. ioredis is not instrumented:
 * BullMQ's polling would flood the traces.
 */
import type { NodeSDK } from '@opentelemetry/sdk-node';

export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim());
  if (exporters.includes('none')) return false;
  return (
    exporters.includes('otlp') ||
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT) ||
    Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  );
}

/** Starts the SDK when the environment asks for traces; call `shutdown()` before exit to flush. */
export async function startTracing(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ shutdown(): Promise<void> } | undefined> {
  if (!tracingWanted(env)) return undefined;
  // Traces only: no OTLP metrics or logs unless asked for (Prometheus serves the metrics).
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  env.OTEL_SERVICE_NAME ??= 'nightjar';
  const [{ NodeSDK: SDK }, { OTLPTraceExporter }, { PgInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/instrumentation-pg'),
  ]);
  const sdk: NodeSDK = new SDK({
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [new PgInstrumentation({ requireParentSpan: true })],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
