// The call trace: a simulated call (webhook → upgrade check → mint → connect →
// turn → barge-in turn → reconnect → end) through CallTracer with a fake
// clock, exported to memory. Asserts the span tree, times and attributes, the
// ticket carry across processes, and the metrics fed on the way.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { SpanStatusCode } from '@opentelemetry/api';
import { CallTracer, extractTraceparent } from '../src/telemetry/tracing.js';
import { BridgeMetrics, METRIC } from '../src/telemetry/metrics.js';
import { OtelCallTelemetry } from '../src/telemetry/call-telemetry.js';

class MemoryReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const T0 = 1_790_000_000_000;

function harness(): {
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
  clock: { now: number; fn: () => number };
  newTracer: (extra?: { rootTimeoutMs?: number }) => CallTracer;
  metrics: BridgeMetrics;
  collect: () => Promise<Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>>;
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const clock = { now: T0, fn: () => clock.now };
  const reader = new MemoryReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const metrics = new BridgeMetrics(meterProvider.getMeter('test'));
  return {
    exporter,
    provider,
    clock,
    metrics,
    newTracer: (extra = {}) =>
      new CallTracer({ tracer: provider.getTracer('test'), clock: clock.fn, metrics, model: 'gpt-realtime', ...extra }),
    collect: async () => {
      const { resourceMetrics } = await reader.collect();
      const out = new Map<string, Array<{ attributes: Record<string, unknown>; value: unknown }>>();
      for (const s of resourceMetrics.scopeMetrics)
        for (const m of s.metrics) out.set(m.descriptor.name, m.dataPoints.map((p) => ({ attributes: { ...p.attributes }, value: p.value })));
      return out;
    },
  };
}

const ms = (span: ReadableSpan, which: 'startTime' | 'endTime'): number => hrTimeToMilliseconds(span[which]);
const parentId = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

function byName(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}
function one(spans: ReadableSpan[], name: string): ReadableSpan {
  const found = byName(spans, name);
  assert.equal(found.length, 1, `expected one ${name} span, got ${found.length}`);
  return found[0] as ReadableSpan;
}

test('a simulated call produces the expected span tree, timings and attributes', async () => {
  const h = harness();
  const tracer = h.newTracer();
  const at = (offset: number): void => {
    h.clock.now = T0 + offset;
  };

  // Webhook.
  at(0);
  const root = tracer.startCall({ callSid: 'CA0123' });
  assert.match(root.carrier, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(tracer.liveRoots, 1);

  // Upgrade: signature + ticket check, then the stream span.
  at(40);
  const upgradeAt = h.clock.now;
  at(41);
  const stream = tracer.startStream({ carrier: root.carrier, callSid: 'CA0123', startTime: upgradeAt });
  stream.authChecked({ outcome: 'ok', startTime: upgradeAt, endTime: T0 + 41 });
  stream.setStreamSid('MZ0456');
  assert.equal(stream.traceId, root.spanContext.traceId);

  // Token mint and first connect.
  at(50);
  const mint = stream.tokenMint(600);
  at(180);
  mint.ok({ 'http.response.status_code': 200 });
  const first = stream.connectAttempt(1);
  at(400);
  first.ready();

  // Turn 1: plain question and answer.
  at(1000);
  stream.turns.speechStarted();
  at(2000);
  stream.turns.speechStopped();
  stream.turns.responseCreated();
  at(2450);
  stream.turns.audioSent();
  at(2470);
  stream.turns.audioSent(); // later chunks change nothing
  at(3000);
  stream.turns.responseDone({ id: 'resp_1', status: 'completed', usage: { input_tokens: 120, output_tokens: 80 } });
  at(4000);
  stream.turns.playbackDone();

  // Turn 2: the caller barges in; response.done (cancelled) arrives after the next turn began.
  at(5000);
  stream.turns.speechStarted();
  at(5600);
  stream.turns.speechStopped();
  stream.turns.responseCreated();
  at(6000);
  stream.turns.audioSent();
  at(6800);
  stream.turns.interrupted(640, T0 + 6790);
  stream.turns.speechStarted(); // turn 3 opens with the barge-in speech
  at(6900);
  stream.turns.responseDone({ id: 'resp_2', status: 'cancelled', usage: { input_tokens: 200, output_tokens: 30 } });

  // Turn 3 runs into an upstream drop and a reconnect that needs two attempts.
  at(7500);
  stream.turns.speechStopped();
  at(8000);
  stream.upstreamClosed(1006, 'abnormal closure');
  const reconnect = stream.reconnect('close_1006');
  const second = reconnect.connectAttempt(2);
  at(8100);
  second.failed({ outcome: 'closed', closeCode: 1011, closeReason: 'internal_error' });
  const third = reconnect.connectAttempt(3);
  at(8350);
  third.ready();
  reconnect.end('ok');
  stream.turns.responseCreated();
  at(8400);
  stream.turns.audioSent();
  at(8600);
  stream.turns.responseDone({ id: 'resp_3', status: 'completed', usage: { input_tokens: 300, output_tokens: 90 } });

  // Hang-up: turn 3 is still playing and ends with the call.
  at(10000);
  stream.end('caller_hangup');
  assert.equal(tracer.liveRoots, 0);

  const spans = h.exporter.getFinishedSpans();
  const rootSpan = one(spans, 'call');
  const streamSpan = one(spans, 'call.stream');
  const traceId = rootSpan.spanContext().traceId;
  assert.ok(spans.every((s) => s.spanContext().traceId === traceId), 'one trace per call');

  // Root: webhook → end of stream, no parent.
  assert.equal(parentId(rootSpan), undefined);
  assert.equal(ms(rootSpan, 'startTime'), T0);
  assert.equal(ms(rootSpan, 'endTime'), T0 + 10000);
  assert.equal(rootSpan.attributes['bridge.call.sid'], 'CA0123');
  assert.equal(rootSpan.attributes['bridge.call.outcome'], 'caller_hangup');
  assert.equal(rootSpan.attributes['bridge.call.stream_local'], true);
  assert.equal(rootSpan.attributes['gen_ai.provider.name'], 'openai');
  assert.equal(rootSpan.attributes['gen_ai.request.model'], 'gpt-realtime');

  // Stream under root; everything else under stream (or nested as below).
  const rootId = rootSpan.spanContext().spanId;
  const streamId = streamSpan.spanContext().spanId;
  assert.equal(parentId(streamSpan), rootId);
  assert.equal(ms(streamSpan, 'startTime'), T0 + 40);
  assert.equal(streamSpan.attributes['bridge.stream.sid'], 'MZ0456');
  assert.equal(streamSpan.attributes['gen_ai.usage.input_tokens'], 620);
  assert.equal(streamSpan.attributes['gen_ai.usage.output_tokens'], 200);

  const auth = one(spans, 'twilio.stream.auth');
  assert.equal(parentId(auth), streamId);
  assert.deepEqual([auth.attributes['bridge.auth.outcome'], auth.attributes['bridge.auth.surface']], ['ok', 'stream']);

  const mintSpan = one(spans, 'upstream.token_mint');
  assert.equal(parentId(mintSpan), streamId);
  assert.equal(mintSpan.attributes['bridge.token.ttl_s'], 600);
  assert.equal(ms(mintSpan, 'endTime') - ms(mintSpan, 'startTime'), 130);

  const connects = byName(spans, 'upstream.connect').sort((a, b) => Number(a.attributes['bridge.upstream.attempt']) - Number(b.attributes['bridge.upstream.attempt']));
  assert.deepEqual(connects.map((c) => c.attributes['bridge.upstream.attempt']), [1, 2, 3]);
  assert.deepEqual(connects.map((c) => c.attributes['bridge.upstream.outcome']), ['ok', 'closed', 'ok']);
  assert.equal(connects[1]?.attributes['bridge.upstream.close_code'], 1011);
  assert.equal(connects[1]?.attributes['bridge.upstream.close_reason'], 'internal_error');
  assert.equal(connects[1]?.status.code, SpanStatusCode.ERROR);
  const reconnectSpan = one(spans, 'upstream.reconnect');
  assert.equal(parentId(reconnectSpan), streamId);
  assert.equal(parentId(connects[0] as ReadableSpan), streamId);
  assert.equal(parentId(connects[1] as ReadableSpan), reconnectSpan.spanContext().spanId);
  assert.equal(parentId(connects[2] as ReadableSpan), reconnectSpan.spanContext().spanId);
  assert.deepEqual([reconnectSpan.attributes['bridge.reason'], reconnectSpan.attributes['bridge.outcome'], reconnectSpan.attributes['bridge.attempts']], ['close_1006', 'ok', 2]);
  const closedEvent = streamSpan.events.find((e) => e.name === 'bridge.upstream.closed');
  assert.equal(closedEvent?.attributes?.['bridge.upstream.close_code'], 1006);

  const turns = byName(spans, 'turn').sort((a, b) => Number(a.attributes['bridge.turn.index']) - Number(b.attributes['bridge.turn.index']));
  assert.equal(turns.length, 3);
  assert.ok(turns.every((t) => parentId(t) === streamId));
  const [t1, t2, t3] = turns as [ReadableSpan, ReadableSpan, ReadableSpan];

  assert.equal(ms(t1, 'startTime'), T0 + 1000);
  assert.equal(ms(t1, 'endTime'), T0 + 4000);
  assert.equal(t1.attributes['bridge.turn.latency_ms'], 450);
  assert.equal(t1.attributes['bridge.turn.interrupted'], false);
  assert.equal(t1.attributes['gen_ai.usage.input_tokens'], 120);
  assert.equal(t1.attributes['gen_ai.usage.output_tokens'], 80);
  assert.equal(t1.attributes['gen_ai.response.id'], 'resp_1');
  assert.equal(t1.attributes['gen_ai.request.model'], 'gpt-realtime');
  const stopped = t1.events.find((e) => e.name === 'bridge.turn.speech_stopped');
  const firstAudio = t1.events.filter((e) => e.name === 'bridge.turn.first_audio');
  assert.equal(stopped && hrTimeToMilliseconds(stopped.time), T0 + 2000);
  assert.equal(firstAudio.length, 1);
  assert.equal(hrTimeToMilliseconds((firstAudio[0] as { time: [number, number] }).time), T0 + 2450);
  assert.equal(firstAudio[0]?.attributes?.['bridge.turn.latency_ms'], 450);

  assert.equal(t2.attributes['bridge.turn.latency_ms'], 400);
  assert.equal(t2.attributes['bridge.turn.interrupted'], true);
  assert.equal(t2.attributes['bridge.turn.heard_ms'], 640);
  assert.equal(t2.attributes['bridge.response.status'], 'cancelled');
  assert.equal(t2.attributes['gen_ai.usage.input_tokens'], 200);
  assert.equal(ms(t2, 'endTime'), T0 + 6900, 'an interrupted turn stays open for its response.done');
  const bargeIn = one(spans, 'turn.barge_in');
  assert.equal(parentId(bargeIn), t2.spanContext().spanId);
  assert.equal(ms(bargeIn, 'startTime'), T0 + 6790);
  assert.equal(ms(bargeIn, 'endTime'), T0 + 6800);
  assert.equal(bargeIn.attributes['bridge.turn.heard_ms'], 640);

  assert.equal(ms(t3, 'startTime'), T0 + 6800);
  assert.equal(t3.attributes['bridge.turn.latency_ms'], 900);
  assert.equal(t3.attributes['bridge.turn.interrupted'], false);
  assert.equal(ms(t3, 'endTime'), T0 + 10000);

  // Metrics fed by the same calls.
  const m = await h.collect();
  const latency = m.get(METRIC.turnLatency)?.[0]?.value as { count: number; sum: number };
  assert.deepEqual([latency.count, latency.sum], [3, 1750]);
  const connectCounts = Object.fromEntries((m.get(METRIC.upstreamConnects) ?? []).map((p) => [p.attributes['bridge.upstream.outcome'], p.value]));
  assert.deepEqual(connectCounts, { ok: 2, closed: 1 });
  assert.deepEqual(m.get(METRIC.upstreamReconnects), [{ attributes: { 'bridge.outcome': 'ok' }, value: 1 }]);
  assert.deepEqual(m.get(METRIC.callsActive), [{ attributes: {}, value: 0 }]);
  assert.deepEqual(m.get(METRIC.callsEnded), [{ attributes: { 'bridge.call.outcome': 'caller_hangup' }, value: 1 }]);
  h.metrics.close();
});

test('the ticket carries the trace to another process: same trace, stream under the remote root', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const h = harness();
    const webhookSide = h.newTracer({ rootTimeoutMs: 75_000 });
    const streamSide = h.newTracer(); // another process: its own registry
    const root = webhookSide.startCall({ callSid: 'CA9' });
    const carried = `ticket-payload|${root.carrier}`.split('|')[1]; // it only has to survive as a string
    const stream = streamSide.startStream({ carrier: carried, callSid: 'CA9' });
    stream.end('completed');

    let spans = h.exporter.getFinishedSpans();
    const streamSpan = one(spans, 'call.stream');
    assert.equal(streamSpan.spanContext().traceId, root.spanContext.traceId);
    assert.equal(parentId(streamSpan), root.spanContext.spanId);
    assert.equal(streamSpan.attributes['bridge.call.stream_local'], false);
    assert.equal(byName(spans, 'call').length, 0, 'the webhook process still holds its root');

    // The webhook process ends its root once the ticket can no longer be redeemed there.
    mock.timers.tick(75_000);
    spans = h.exporter.getFinishedSpans();
    const rootSpan = one(spans, 'call');
    assert.equal(rootSpan.attributes['bridge.call.stream_local'], false);
    assert.equal(webhookSide.liveRoots, 0);
  } finally {
    mock.timers.reset();
  }
});

test('traceparent round-trip, and malformed or missing carriers start a fresh trace', () => {
  const h = harness();
  const tracer = h.newTracer();
  const root = tracer.startCall({ callSid: 'CA1' });
  const restored = extractTraceparent(root.carrier);
  assert.ok(restored);
  for (const bad of [undefined, '', 'garbage', '00-zz-yy-01']) {
    const stream = tracer.startStream({ carrier: bad, callSid: 'CA1' });
    stream.end('completed');
  }
  const streams = byName(h.exporter.getFinishedSpans(), 'call.stream');
  assert.equal(streams.length, 4);
  assert.ok(streams.every((s) => parentId(s) === undefined && s.spanContext().traceId !== root.spanContext.traceId));
  root.end('rejected');
  const rootSpan = one(h.exporter.getFinishedSpans(), 'call');
  assert.equal(rootSpan.attributes['bridge.call.outcome'], 'rejected');
  h.metrics.close();
});

test('rollover, fallback, Twilio REST and auth rejections', async () => {
  const h = harness();
  const tracer = h.newTracer();
  const root = tracer.startCall({ callSid: 'CA2' });
  const stream = tracer.startStream({ carrier: root.carrier, callSid: 'CA2' });
  const rollover = stream.rollover('session_cap');
  rollover.connectAttempt(2).ready();
  rollover.end('ok');
  const fallback = stream.fallback('upstream_gave_up', 'twiml');
  const rest = stream.twilioRest('calls.update');
  rest.fail('twilio_20404', { 'bridge.twilio.error_code': 20404, 'http.response.status_code': 404 });
  fallback.ok();
  stream.authChecked({ outcome: 'ticket_reused', startTime: h.clock.now });
  tracer.authRejected('stream', 'bad_signature');
  tracer.authRejected('webhook', 'missing_signature');
  stream.end('fallback');

  const spans = h.exporter.getFinishedSpans();
  const streamId = one(spans, 'call.stream').spanContext().spanId;
  const ro = one(spans, 'upstream.rollover');
  assert.deepEqual([ro.attributes['bridge.reason'], ro.attributes['bridge.outcome'], parentId(ro)], ['session_cap', 'ok', streamId]);
  const fb = one(spans, 'call.fallback');
  assert.deepEqual([fb.attributes['bridge.reason'], fb.attributes['bridge.fallback.action'], fb.attributes['bridge.outcome']], ['upstream_gave_up', 'twiml', 'ok']);
  const restSpan = one(spans, 'twilio.rest');
  assert.equal(restSpan.attributes['bridge.twilio.operation'], 'calls.update');
  assert.equal(restSpan.attributes['error.type'], 'twilio_20404');
  assert.equal(restSpan.attributes['bridge.twilio.error_code'], 20404);
  assert.equal(restSpan.status.code, SpanStatusCode.ERROR);
  const authSpans = byName(spans, 'twilio.stream.auth');
  assert.deepEqual(authSpans.map((s) => s.attributes['bridge.auth.outcome']).sort(), ['bad_signature', 'ticket_reused']);
  assert.equal(one(spans, 'twilio.webhook.auth').attributes['bridge.auth.outcome'], 'missing_signature');

  const m = await h.collect();
  const failures = (m.get(METRIC.authFailures) ?? []).map((p) => `${p.attributes['bridge.auth.surface']}/${p.attributes['bridge.auth.reason']}=${p.value}`).sort();
  assert.deepEqual(failures, ['stream/bad_signature=1', 'stream/ticket_reused=1', 'webhook/missing_signature=1']);
  assert.deepEqual(m.get(METRIC.upstreamRollovers), [{ attributes: { 'bridge.outcome': 'ok' }, value: 1 }]);
  h.metrics.close();
});

test('without an SDK every helper is a no-op and the carrier is empty', () => {
  const tracer = new CallTracer();
  const root = tracer.startCall({ callSid: 'CA3' });
  assert.equal(root.carrier, '');
  assert.equal(tracer.liveRoots, 0);
  const stream = tracer.startStream({ carrier: root.carrier, callSid: 'CA3' });
  assert.equal(stream.traceId, '');
  stream.turns.speechStarted();
  stream.turns.speechStopped();
  stream.turns.audioSent();
  stream.turns.interrupted(100);
  stream.connectAttempt(1).ready();
  stream.end('completed');
  root.end('completed');
});

test('turns: a lost response.done cannot keep spans open, and a greeting has no latency', () => {
  const h = harness();
  const tracer = h.newTracer();
  const stream = tracer.startStream({ carrier: undefined, callSid: 'CA4' });
  stream.turns.audioSent(); // the assistant greets first
  stream.turns.playbackDone();
  for (let i = 0; i < 6; i++) {
    stream.turns.speechStarted();
    stream.turns.speechStopped();
    stream.turns.responseCreated();
    stream.turns.audioSent();
    stream.turns.interrupted(10);
    // response.done never arrives
  }
  const finishedBeforeEnd = byName(h.exporter.getFinishedSpans(), 'turn').length;
  assert.ok(finishedBeforeEnd >= 3, `old pending turns are force-ended (got ${finishedBeforeEnd})`);
  stream.end('completed');
  const turns = byName(h.exporter.getFinishedSpans(), 'turn');
  assert.equal(turns.length, 7);
  const greeting = turns.find((t) => t.attributes['bridge.turn.index'] === 1);
  assert.equal(greeting?.attributes['bridge.turn.latency_ms'], undefined);
  h.metrics.close();
});

test('turns: a barge-in after response.done is recorded when passed with the interrupting speech', () => {
  const h = harness();
  const tracer = h.newTracer();
  const stream = tracer.startStream({ carrier: undefined, callSid: 'CA5' });
  h.clock.now = T0 + 100;
  stream.turns.speechStarted();
  h.clock.now = T0 + 900;
  stream.turns.speechStopped();
  stream.turns.responseCreated();
  h.clock.now = T0 + 1300;
  stream.turns.audioSent();
  h.clock.now = T0 + 1500;
  // The reply finished generating long before it finished playing.
  stream.turns.responseDone({ id: 'resp_a', status: 'completed', usage: { input_tokens: 10, output_tokens: 50 } });
  h.clock.now = T0 + 2600;
  stream.turns.speechStarted({ heardMs: 1250 });
  // Calling interrupted() with no assistant audio out changes nothing.
  stream.turns.interrupted(999);
  stream.end('completed');

  const turns = byName(h.exporter.getFinishedSpans(), 'turn').sort((a, b) => Number(a.attributes['bridge.turn.index']) - Number(b.attributes['bridge.turn.index']));
  assert.equal(turns.length, 2);
  const [first, second] = turns as [ReadableSpan, ReadableSpan];
  assert.equal(first.attributes['bridge.turn.interrupted'], true);
  assert.equal(first.attributes['bridge.turn.heard_ms'], 1250);
  assert.equal(first.attributes['bridge.turn.latency_ms'], 400);
  assert.equal(ms(first, 'endTime'), T0 + 2600);
  assert.equal(second.attributes['bridge.turn.interrupted'], false);
  assert.equal(byName(h.exporter.getFinishedSpans(), 'turn.barge_in').length, 1);
  h.metrics.close();
});

test('a call\'s upstream phases: a planned rollover that loses its old session fails and goes on as a reconnect; a session_expired rollover is one rollover, the old session\'s close included', async () => {
  const h = harness();
  const tracer = h.newTracer();
  const root = tracer.startCall({ callSid: 'CA3' });
  const stream = tracer.startStream({ carrier: root.carrier, callSid: 'CA3' });
  const call = new OtelCallTelemetry(stream, h.metrics);
  call.rolloverStarted('session_age');
  call.upstreamLost('AI session closed (1006)');
  call.sessionActive('reconnect');
  call.rolloverStarted('session_expired');
  // The service closes the expired session at once, before the new one is ready: the link reports the loss.
  call.upstreamLost('AI session closed (1001)');
  call.sessionActive('reconnect');
  stream.end('completed');

  const spans = h.exporter.getFinishedSpans();
  const outcomes = (name: string) => byName(spans, name).map((s) => `${s.attributes['bridge.reason']}:${s.attributes['bridge.outcome']}`);
  assert.deepEqual(outcomes('upstream.rollover'), ['session_age:failed', 'session_expired:ok']);
  assert.equal(byName(spans, 'upstream.reconnect').length, 1);
  assert.equal(byName(spans, 'upstream.reconnect')[0]!.attributes['bridge.outcome'], 'ok');
  const m = await h.collect();
  const points = (name: string) => (m.get(name) ?? []).map((p) => `${p.attributes['bridge.outcome']}=${p.value}`).sort();
  assert.deepEqual(points(METRIC.upstreamRollovers), ['failed=1', 'ok=1']);
  assert.deepEqual(points(METRIC.upstreamReconnects), ['ok=1']);
  h.metrics.close();
});
