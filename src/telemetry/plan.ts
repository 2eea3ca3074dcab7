// Owns the decision of where telemetry goes, as a pure function of the
// environment: which signals export over OTLP (and with which protocol),
// whether a Prometheus scrape endpoint opens, and the one start-up line that
// tells the operator. Besides src/config this is the only code that reads
// OTEL_* and METRICS_PORT. It never starts anything and never echoes
// credentials (OTLP headers, userinfo or query strings of endpoints).

export type Env = Readonly<Record<string, string | undefined>>;

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

export interface SignalPlan {
  /** Leave this signal to the SDK's own OTEL_* handling (true) or switch it off (false). */
  readonly enabled: boolean;
  /** Human description for the start-up line. */
  readonly target: string;
}

export interface TelemetryPlan {
  /** False when nothing is configured: the SDK is not started at all and the API stays a no-op. */
  readonly start: boolean;
  readonly traces: SignalPlan;
  readonly metrics: {
    readonly otlp: { readonly protocol: OtlpProtocol; readonly intervalMs: number; readonly timeoutMs: number } | null;
    readonly prometheus: { readonly port: number; readonly host: string } | null;
  };
  readonly logs: SignalPlan;
  /** The single start-up line, without secrets. */
  readonly summary: string;
}

/** Thrown for a malformed telemetry variable; the message names the variable, never a value that may be secret. */
export class TelemetryConfigError extends Error {
  readonly code = 'BRIDGE_ERR_TELEMETRY_CONFIG';
  constructor(readonly variable: string, expected: string) {
    super(`${variable}: ${expected}`);
    this.name = 'TelemetryConfigError';
  }
}

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function list(env: Env, name: string): string[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  return raw.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
}

function protocolOf(env: Env, signal: 'TRACES' | 'METRICS' | 'LOGS'): OtlpProtocol {
  const raw = read(env, `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`) ?? read(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  // The spec's default for OTLP is http/protobuf; the SDK falls back the same way.
  if (raw === 'http/json' || raw === 'grpc') return raw;
  return 'http/protobuf';
}

/** Where a signal's OTLP data goes, for display: origin and path only. */
function endpointOf(env: Env, signal: 'TRACES' | 'METRICS' | 'LOGS'): string | undefined {
  const specific = read(env, `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`);
  const base = read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const raw = specific ?? base;
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    const path = specific === undefined && protocolOf(env, signal) !== 'grpc'
      ? `${url.pathname.replace(/\/$/, '')}/v1/${signal.toLowerCase()}`
      : url.pathname === '/' ? '' : url.pathname;
    return `${url.protocol}//${url.host}${path}`;
  } catch {
    // The exporter reports a bad URL itself; never echo the raw value (it may hold credentials).
    return '(unparseable endpoint)';
  }
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) throw new TelemetryConfigError(name, 'expected a positive whole number of milliseconds');
  return Number(raw);
}

/**
 * Decides the telemetry set-up. Rules:
 * - OTEL_SDK_DISABLED=true switches everything off.
 * - Traces and metrics export over OTLP only when an endpoint is set (the SDK
 *   would otherwise default to localhost:4318 and retry forever), unless
 *   OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER ask for something explicitly.
 * - Logs go through OTLP only on request (OTEL_LOGS_EXPORTER=otlp): they are
 *   already on stdout, and shipping them twice by default doubles the bill.
 * - METRICS_PORT opens a Prometheus scrape endpoint at /metrics.
 */
export function planTelemetry(env: Env): TelemetryPlan {
  const off: SignalPlan = { enabled: false, target: 'off' };
  if (read(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') {
    return {
      start: false,
      traces: off,
      metrics: { otlp: null, prometheus: null },
      logs: off,
      summary: 'telemetry: disabled by OTEL_SDK_DISABLED',
    };
  }

  const traces = signalPlan(env, 'TRACES', false);
  const logs = signalPlan(env, 'LOGS', true);

  const metricsExporters = list(env, 'OTEL_METRICS_EXPORTER');
  const metricsEndpoint = endpointOf(env, 'METRICS');
  const otlpMetrics =
    metricsExporters === undefined ? metricsEndpoint !== undefined : metricsExporters.includes('otlp') && !metricsExporters.includes('none');
  const metricsOtlp = otlpMetrics
    ? {
        protocol: protocolOf(env, 'METRICS'),
        intervalMs: positiveInt(env, 'OTEL_METRIC_EXPORT_INTERVAL', 60_000),
        timeoutMs: positiveInt(env, 'OTEL_METRIC_EXPORT_TIMEOUT', 30_000),
      }
    : null;

  const portRaw = read(env, 'METRICS_PORT');
  let prometheus: { port: number; host: string } | null = null;
  if (portRaw !== undefined) {
    if (!/^\d+$/.test(portRaw) || Number(portRaw) < 1 || Number(portRaw) > 65535) {
      throw new TelemetryConfigError('METRICS_PORT', 'expected a port number from 1 to 65535');
    }
    prometheus = { port: Number(portRaw), host: read(env, 'METRICS_HOST') ?? '0.0.0.0' };
  }

  const metricTargets: string[] = [];
  if (metricsOtlp) metricTargets.push(`otlp ${metricsOtlp.protocol} ${metricsEndpoint ?? 'http://localhost:4318/v1/metrics (SDK default)'}`);
  if (prometheus) metricTargets.push(`prometheus http://${prometheus.host}:${prometheus.port}/metrics`);

  const start = traces.enabled || logs.enabled || metricsOtlp !== null || prometheus !== null;
  const summary = start
    ? `telemetry: traces → ${traces.target}; metrics → ${metricTargets.length > 0 ? metricTargets.join(' + ') : 'off'}; logs → stdout${logs.enabled ? ` + ${logs.target}` : ''}`
    : 'telemetry: off (set OTEL_EXPORTER_OTLP_ENDPOINT for OTLP, METRICS_PORT for a Prometheus endpoint); logs → stdout';
  return { start, traces, metrics: { otlp: metricsOtlp, prometheus }, logs, summary };
}

function signalPlan(env: Env, signal: 'TRACES' | 'LOGS', optIn: boolean): SignalPlan {
  const exporters = list(env, `OTEL_${signal}_EXPORTER`);
  const endpoint = endpointOf(env, signal);
  if (exporters === undefined) {
    if (optIn || endpoint === undefined) return { enabled: false, target: 'off' };
    return { enabled: true, target: `otlp ${protocolOf(env, signal)} ${endpoint}` };
  }
  if (exporters.length === 0 || exporters[0] === 'none') return { enabled: false, target: 'off' };
  const targets = exporters.map((name) =>
    name === 'otlp' ? `otlp ${protocolOf(env, signal)} ${endpoint ?? 'http://localhost:4318 (SDK default)'}` : name,
  );
  return { enabled: true, target: targets.join(' + ') };
}
