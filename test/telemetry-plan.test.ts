// Telemetry set-up: the env → plan decision (pure) and the preload module
// started in a child process the way the container starts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './support/free-port.js';
import { runPreloaded } from './support/preloaded-child.js';
import { planTelemetry, TelemetryConfigError } from '../src/telemetry/plan.js';

test('nothing configured: SDK not started, no localhost:4318 default, one "off" line', () => {
  const plan = planTelemetry({});
  assert.equal(plan.start, false);
  assert.equal(plan.traces.enabled, false);
  assert.equal(plan.metrics.otlp, null);
  assert.equal(plan.metrics.prometheus, null);
  assert.equal(plan.logs.enabled, false);
  assert.match(plan.summary, /^telemetry: off/);
});

test('an OTLP endpoint turns on traces and metrics (protocol from OTEL_EXPORTER_OTLP_PROTOCOL); logs stay opt-in', () => {
  const plan = planTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
  assert.equal(plan.start, true);
  assert.equal(plan.traces.enabled, true);
  assert.equal(plan.metrics.otlp?.protocol, 'http/json');
  assert.equal(plan.logs.enabled, false);
  assert.match(plan.summary, /traces → otlp http\/json http:\/\/collector:4318\/v1\/traces/);
  assert.match(plan.summary, /metrics → otlp http\/json http:\/\/collector:4318\/v1\/metrics/);

  const withLogs = planTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_LOGS_EXPORTER: 'otlp' });
  assert.equal(withLogs.logs.enabled, true);
  assert.match(withLogs.summary, /logs → stdout \+ otlp http\/protobuf http:\/\/collector:4318\/v1\/logs/);
});

test('explicit exporter choices win; "none" switches a signal off', () => {
  const plan = planTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' });
  assert.equal(plan.traces.enabled, false);
  assert.equal(plan.metrics.otlp, null);
  assert.equal(plan.start, false);
  const consoleOnly = planTelemetry({ OTEL_TRACES_EXPORTER: 'console' });
  assert.equal(consoleOnly.traces.enabled, true);
  assert.equal(consoleOnly.start, true);
  assert.equal(planTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }).start, false);
});

test('METRICS_PORT opens Prometheus alone; a bad value names the variable', () => {
  const plan = planTelemetry({ METRICS_PORT: '9464' });
  assert.equal(plan.start, true);
  assert.equal(plan.traces.enabled, false);
  assert.deepEqual(plan.metrics.prometheus, { port: 9464, host: '0.0.0.0' });
  assert.match(plan.summary, /prometheus http:\/\/0\.0\.0\.0:9464\/metrics/);
  assert.throws(() => planTelemetry({ METRICS_PORT: 'abc' }), (e: unknown) => e instanceof TelemetryConfigError && e.variable === 'METRICS_PORT');
});

test('the start-up line never shows endpoint credentials or OTLP headers', () => {
  const plan = planTelemetry({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pa55w0rd@otlp.example.com:4318/?api_key=SECRETQ',
    OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer SECRETH',
  });
  assert.doesNotMatch(plan.summary, /pa55w0rd|SECRETQ|SECRETH|user/);
  assert.match(plan.summary, /https:\/\/otlp\.example\.com:4318\/v1\/traces/);
});


test('preload with nothing set: exactly one start-up line, no global tracer or meter provider', async () => {
  const script = `
    import { trace, metrics } from '@opentelemetry/api';
    const span = trace.getTracer('t').startSpan('x');
    console.log(JSON.stringify({ recording: span.isRecording(), meter: metrics.getMeterProvider().constructor.name }));`;
  const { code, stdout } = await runPreloaded({}, script);
  assert.equal(code, 0);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(JSON.parse(lines[0] as string).msg, /^telemetry: off/);
  const probe = JSON.parse(lines[1] as string);
  assert.equal(probe.recording, false);
  assert.equal(probe.meter, 'NoopMeterProvider');
});

test('preload with METRICS_PORT serves /metrics, and shutdownTelemetry() stops it so the process exits', async () => {
  const port = await freePort();
  const script = `
    import { metrics } from '@opentelemetry/api';
    import { shutdownTelemetry } from ${JSON.stringify(new URL('../src/telemetry/runtime.ts', import.meta.url).href)};
    metrics.getMeter('probe').createCounter('probe.hits').add(3);
    const res = await fetch('http://127.0.0.1:${port}/metrics');
    console.log(JSON.stringify({ status: res.status, body: await res.text() }));
    await shutdownTelemetry(2000);`;
  const { code, stdout, stderr } = await runPreloaded({ METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' }, script);
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.match(JSON.parse(lines[0] as string).msg, new RegExp(`prometheus http://127\\.0\\.0\\.1:${port}/metrics`));
  const scrape = JSON.parse(lines[1] as string) as { status: number; body: string };
  assert.equal(scrape.status, 200);
  assert.match(scrape.body, /probe_hits_total\{[^}]*\} 3/);
  assert.match(scrape.body, /service_name="twilio-realtime-bridge"/);
});

test('preload fails fast on a malformed METRICS_PORT', async () => {
  const { code, stdout } = await runPreloaded({ METRICS_PORT: 'eighty' }, 'console.log("app ran")');
  assert.notEqual(code, 0);
  assert.match(stdout, /METRICS_PORT: expected a port number/);
  assert.doesNotMatch(stdout, /app ran/);
});
