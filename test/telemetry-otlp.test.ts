// End to end through the real preload: a child process started the way the
// container starts the bridge (`--import preload`) runs a small Fastify app
// that answers a webhook and a stream request through CallTracer, then calls
// shutdownTelemetry(). A local OTLP/HTTP receiver decodes what arrives:
// traces, metrics and logs as http/json, and traces as http/protobuf (the
// default protocol) with a minimal protobuf wire reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPreloaded, type ChildResult } from './support/preloaded-child.js';
import { createServer, type IncomingMessage, type Server } from 'node:http';

const TICKET = 'tkSECRETticket0123456789';
const src = (p: string): string => JSON.stringify(new URL(`../src/telemetry/${p}`, import.meta.url).href);

const CHILD = `
import Fastify from 'fastify';
import { loggerOptions, callLogger } from ${src('logging.ts')};
import { CallTracer } from ${src('tracing.ts')};
import { BridgeMetrics } from ${src('metrics.ts')};
import { shutdownTelemetry } from ${src('runtime.ts')};
const app = Fastify({ logger: loggerOptions({ level: 'info' }) });
const metrics = new BridgeMetrics();
const calls = new CallTracer({ metrics, model: 'gpt-realtime' });
let carrier = '';
app.post('/twilio/voice', async (req) => {
  carrier = calls.startCall({ callSid: 'CA77' }).carrier;
  req.log.info('answered');
  return 'ok';
});
app.get('/twilio/stream/:ticket', async (req) => {
  const stream = calls.startStream({ carrier, callSid: 'CA77' });
  stream.setStreamSid('MZ77');
  const log = callLogger(req.log, { callSid: 'CA77', streamSid: 'MZ77' });
  stream.run(() => log.info('inside call'));
  stream.connectAttempt(1).ready();
  stream.turns.speechStarted();
  stream.turns.speechStopped();
  await new Promise((r) => setTimeout(r, 5));
  stream.turns.audioSent();
  stream.turns.playbackDone();
  stream.end('completed');
  return 'ok';
});
await app.listen({ port: 0, host: '127.0.0.1' });
const base = 'http://127.0.0.1:' + app.server.address().port;
await fetch(base + '/twilio/voice', { method: 'POST' });
// Assembled at run time so the literal ticket is not in the command line (process.command_args).
await fetch(base + '/twilio/stream/' + ${JSON.stringify(TICKET.split(''))}.join(''));
await app.close();
await shutdownTelemetry(5000);
`;

interface Received {
  path: string;
  contentType: string;
  body: Buffer;
}

async function receiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = String(req.headers['content-type'] ?? '');
      received.push({ path: req.url ?? '', contentType, body: Buffer.concat(chunks) });
      // An empty Export*ServiceResponse is a full success in both encodings.
      res.writeHead(200, { 'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf' });
      res.end(contentType.includes('json') ? '{}' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}`, received };
}

function runChild(env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return runPreloaded(env, CHILD);
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };
interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: KeyValue[];
  links?: Array<{ traceId: string; spanId: string }>;
}

function attr(list: KeyValue[] | undefined, key: string): unknown {
  const v = list?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue;
}

test('OTLP http/json: traces, metrics and logs arrive decoded, ticket-free, with trace ids in log lines', async () => {
  const rx = await receiver();
  try {
    const { code, stdout, stderr } = await runChild({
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_LOGS_EXPORTER: 'otlp',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
    });
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(String(lines[0]?.msg), /^telemetry: traces → otlp http\/json http:\/\/127\.0\.0\.1:\d+\/v1\/traces; metrics → otlp http\/json .*; logs → stdout \+ otlp/);

    const paths = new Set(rx.received.map((r) => r.path));
    assert.deepEqual([...paths].sort(), ['/v1/logs', '/v1/metrics', '/v1/traces']);
    assert.ok(rx.received.every((r) => r.contentType.startsWith('application/json')));
    assert.ok(rx.received.every((r) => !r.body.toString().includes(TICKET)), 'the stream ticket reached an OTLP payload');

    // Traces.
    const spans: JsonSpan[] = [];
    let serviceName: unknown;
    for (const r of rx.received.filter((x) => x.path === '/v1/traces')) {
      const payload = JSON.parse(r.body.toString()) as { resourceSpans: Array<{ resource: { attributes: KeyValue[] }; scopeSpans: Array<{ spans: JsonSpan[] }> }> };
      for (const rs of payload.resourceSpans) {
        serviceName = attr(rs.resource.attributes, 'service.name');
        assert.equal(attr(rs.resource.attributes, 'deployment.environment.name'), 'test');
        for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      }
    }
    assert.equal(serviceName, 'twilio-realtime-bridge');
    const call = spans.find((s) => s.name === 'call');
    const stream = spans.find((s) => s.name === 'call.stream');
    const turn = spans.find((s) => s.name === 'turn');
    assert.ok(call && stream && turn, `spans: ${spans.map((s) => s.name).join(', ')}`);
    assert.match(call.traceId, /^[0-9a-f]{32}$/);
    assert.equal(stream.parentSpanId, call.spanId);
    assert.equal(turn.traceId, call.traceId);
    assert.equal(attr(call.attributes, 'bridge.call.sid'), 'CA77');
    // The call root links to the webhook request's span (its own short trace).
    const webhookSpans = spans.filter((s) => attr(s.attributes, 'url.path') === '/twilio/voice');
    assert.ok(webhookSpans.length >= 1);
    // (the active span in the handler is Fastify's handler span, inside the webhook request's trace)
    const linked = spans.find((s) => s.spanId === call.links?.[0]?.spanId);
    assert.ok(linked && webhookSpans.every((w) => w.traceId === linked.traceId), 'call links into the webhook request trace');
    assert.notEqual(linked.traceId, call.traceId);
    assert.ok(Number(attr(turn.attributes, 'bridge.turn.latency_ms')) >= 4);
    // The instrumented HTTP server and Fastify spans exist, with the ticket path redacted.
    const streamRequest = spans.filter((s) => attr(s.attributes, 'url.path') === '/twilio/stream/[REDACTED]');
    assert.ok(streamRequest.length >= 2, `http + fastify spans for the stream request: ${JSON.stringify(spans.map((s) => [s.name, attr(s.attributes, 'url.path')]))}`);

    // Metrics.
    const metricNames = new Set<string>();
    let ended: unknown;
    for (const r of rx.received.filter((x) => x.path === '/v1/metrics')) {
      const payload = JSON.parse(r.body.toString()) as {
        resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string; sum?: { dataPoints: Array<{ attributes: KeyValue[]; asInt?: string | number }> } }> }> }>;
      };
      for (const rm of payload.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            metricNames.add(m.name);
            if (m.name === 'bridge.calls.ended') ended = m.sum?.dataPoints.map((p) => [attr(p.attributes, 'bridge.call.outcome'), Number(p.asInt)]);
          }
    }
    for (const name of ['bridge.calls.active', 'bridge.calls.ended', 'bridge.turn.latency', 'bridge.upstream.connects', 'http.server.request.duration']) {
      assert.ok(metricNames.has(name), `${name} missing from ${[...metricNames].join(', ')}`);
    }
    assert.deepEqual(ended, [['completed', 1]]);

    // Logs: stdout lines inside the call carry the call's trace, and the OTLP log record does too.
    const inside = lines.find((l) => l.msg === 'inside call');
    assert.ok(inside);
    assert.equal(inside.trace_id, call.traceId);
    assert.equal(inside.span_id, stream.spanId);
    assert.deepEqual([inside.callSid, inside.streamSid], ['CA77', 'MZ77']);
    const records: Array<{ body?: AnyValue; traceId?: string }> = [];
    for (const r of rx.received.filter((x) => x.path === '/v1/logs')) {
      const payload = JSON.parse(r.body.toString()) as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: Array<{ body?: AnyValue; traceId?: string }> }> }> };
      for (const rl of payload.resourceLogs) for (const sl of rl.scopeLogs) records.push(...sl.logRecords);
    }
    const exported = records.find((r) => r.body?.stringValue === 'inside call');
    assert.equal(exported?.traceId, call.traceId);
  } finally {
    rx.server.close();
  }
});

// --- minimal protobuf wire reader: enough to walk OTLP traces by field number.
function* fields(buf: Buffer): Generator<{ field: number; wire: number; value: Buffer | bigint }> {
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === 0) yield { field, wire, value: varint() };
    else if (wire === 2) {
      const len = Number(varint());
      yield { field, wire, value: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) {
      yield { field, wire, value: buf.subarray(i, i + 8) };
      i += 8;
    } else if (wire === 5) {
      yield { field, wire, value: buf.subarray(i, i + 4) };
      i += 4;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
}
const sub = (buf: Buffer, n: number): Buffer[] => [...fields(buf)].filter((f) => f.field === n && f.wire === 2).map((f) => f.value as Buffer);

test('OTLP http/protobuf (the default protocol): spans decode from the wire', async () => {
  const rx = await receiver();
  try {
    const { code, stderr } = await runChild({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${rx.url}/v1/traces`, OTEL_METRICS_EXPORTER: 'none' });
    assert.equal(code, 0, stderr);
    const traces = rx.received.filter((r) => r.path === '/v1/traces');
    assert.ok(traces.length > 0);
    assert.ok(rx.received.every((r) => r.path === '/v1/traces'), 'only traces were configured');
    assert.ok(traces.every((r) => r.contentType === 'application/x-protobuf'));
    // ExportTraceServiceRequest.resource_spans=1 → ResourceSpans.scope_spans=2 → ScopeSpans.spans=2 → Span{trace_id=1, span_id=2, parent_span_id=4, name=5}
    const spans: Array<{ name: string; traceId: string; spanId: string; parent: string }> = [];
    for (const r of traces)
      for (const rs of sub(r.body, 1))
        for (const ss of sub(rs, 2))
          for (const sp of sub(ss, 2)) {
            const hex = (n: number): string => (sub(sp, n)[0] ?? Buffer.alloc(0)).toString('hex');
            spans.push({ name: (sub(sp, 5)[0] as Buffer).toString('utf8'), traceId: hex(1), spanId: hex(2), parent: hex(4) });
          }
    const call = spans.find((s) => s.name === 'call');
    const stream = spans.find((s) => s.name === 'call.stream');
    assert.ok(call && stream, spans.map((s) => s.name).join(', '));
    assert.equal(stream.traceId, call.traceId);
    assert.equal(stream.parent, call.spanId);
    assert.ok(!traces.some((r) => r.body.includes(Buffer.from(TICKET))));
  } finally {
    rx.server.close();
  }
});
