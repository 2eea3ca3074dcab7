// Owns starting OpenTelemetry before the application loads. It is the one
// entry point for telemetry set-up:
//   node --import ./dist/src/telemetry/preload.js dist/src/server.js
// The SDK reads the standard OTEL_* variables itself; planTelemetry() only
// decides what to switch off so that an unconfigured bridge exports nothing
// and costs close to nothing. Prints exactly one start-up line. Never prints
// OTLP headers or endpoint credentials, and never lets a stream ticket reach a
// span attribute.

import { NodeSDK } from '@opentelemetry/sdk-node';
import { PeriodicExportingMetricReader, type MetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPMetricExporter as OtlpMetricsJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpMetricsProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as OtlpMetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import FastifyOtel from '@fastify/otel';
import { planTelemetry, type TelemetryPlan } from './plan.js';
import { installTelemetryHandle } from './runtime.js';
import { redactTicketPath } from './redact.js';
import { SERVICE_NAME } from './attributes.js';

/** Paths probed often enough that a span per request would be noise. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function metricReaders(plan: TelemetryPlan): MetricReader[] {
  const readers: MetricReader[] = [];
  const otlp = plan.metrics.otlp;
  if (otlp) {
    // Each exporter reads its own endpoint, headers and temporality from OTEL_* itself.
    const exporter: PushMetricExporter =
      otlp.protocol === 'grpc' ? new OtlpMetricsGrpc() : otlp.protocol === 'http/json' ? new OtlpMetricsJson() : new OtlpMetricsProto();
    readers.push(
      new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: otlp.intervalMs, exportTimeoutMillis: Math.min(otlp.timeoutMs, otlp.intervalMs) }),
    );
  }
  const prom = plan.metrics.prometheus;
  if (prom) readers.push(new PrometheusExporter({ port: prom.port, host: prom.host }));
  return readers;
}

function startTelemetry(plan: TelemetryPlan): void {
  const env = process.env;
  const namedByEnv = env.OTEL_SERVICE_NAME !== undefined || /(^|,)\s*service\.name=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    // Passing the option overrides OTEL_SERVICE_NAME, so only default it.
    ...(namedByEnv ? {} : { serviceName: SERVICE_NAME }),
    // An empty list means "off"; leaving the option out lets the SDK build
    // exporters from OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER and friends.
    ...(plan.traces.enabled ? {} : { spanProcessors: [] }),
    ...(plan.logs.enabled ? {} : { logRecordProcessors: [] }),
    metricReaders: metricReaders(plan),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
        // The stream URL's path carries the ticket: overwrite url.path before export.
        startIncomingSpanHook: (req) => ({ 'url.path': redactTicketPath((req.url ?? '/').split('?')[0] ?? '/') }),
      }),
      new FastifyOtel.FastifyOtelInstrumentation({
        // Hooks every Fastify instance through diagnostics_channel: no loader
        // hook is needed even though the app is ESM.
        registerOnInitialization: true,
        ignorePaths: (route) => QUIET_PATHS.has(route.url),
        requestHook: (span, request) => span.setAttribute('url.path', redactTicketPath(request.url)),
      }),
      // Adds trace_id / span_id / trace_flags to every pino line written
      // inside an active span. Log records go to the OTel logs pipeline only
      // when OTEL_LOGS_EXPORTER asks for it.
      new PinoInstrumentation({ disableLogSending: !plan.logs.enabled }),
    ],
  });
  sdk.start();
  installTelemetryHandle({ summary: plan.summary, shutdown: () => sdk.shutdown() });
}

function announce(line: string, level: 30 | 50): void {
  // Same shape as a pino line so log pipelines parse it like any other.
  process.stdout.write(`${JSON.stringify({ level, time: Date.now(), msg: line })}\n`);
}

try {
  const plan = planTelemetry(process.env);
  if (plan.start) startTelemetry(plan);
  announce(plan.summary, 30);
} catch (err) {
  // A bad telemetry variable is an operator error worth failing fast on, like config.
  announce(`telemetry: ${err instanceof Error ? err.message : String(err)}`, 50);
  process.exitCode = 1;
  throw err;
}
