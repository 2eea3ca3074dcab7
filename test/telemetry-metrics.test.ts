// BridgeMetrics against a real SDK MeterProvider with an in-memory reader:
// names, units, attributes, buckets, and the allocation-free hot path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataPointType } from '@opentelemetry/sdk-metrics';
import { BridgeMetrics, METRIC, BUCKETS, FRAME_SAMPLE_EVERY } from '../src/telemetry/metrics.js';
import { memoryMetrics, points } from './support/memory-metrics.js';

test('call lifecycle: active calls up/down, ended calls by outcome', async () => {
  const { bridge, collect, done } = memoryMetrics();
  bridge.callStarted();
  bridge.callStarted();
  bridge.callEnded('completed');
  bridge.callStarted();
  bridge.callEnded('upstream_failed');
  bridge.callEnded('completed');
  bridge.callStarted();
  const m = await collect();
  assert.deepEqual(points(m.get(METRIC.callsActive)), [{ attributes: {}, value: 1 }]);
  assert.equal(m.get(METRIC.callsActive)?.descriptor.unit, '{call}');
  const ended = points(m.get(METRIC.callsEnded));
  assert.deepEqual(
    ended.sort((a, b) => String(a.attributes['bridge.call.outcome']).localeCompare(String(b.attributes['bridge.call.outcome']))),
    [
      { attributes: { 'bridge.call.outcome': 'completed' }, value: 2 },
      { attributes: { 'bridge.call.outcome': 'upstream_failed' }, value: 1 },
    ],
  );
  await done();
});

test('histograms use their documented units and explicit buckets', async () => {
  const { bridge, collect, done } = memoryMetrics();
  bridge.turnLatency(450);
  bridge.turnLatency(1800);
  // Transcode timings are sampled: the first frame per direction, then every FRAME_SAMPLE_EVERY-th.
  for (let i = 0; i < FRAME_SAMPLE_EVERY; i++) bridge.transcode('in', 40);
  for (let i = 0; i <= FRAME_SAMPLE_EVERY; i++) bridge.transcode('out', i === 0 ? 300 : 12);
  for (let i = 0; i < FRAME_SAMPLE_EVERY; i++) bridge.outboundLead(140);
  const m = await collect();

  const latency = m.get(METRIC.turnLatency);
  assert.equal(latency?.descriptor.unit, 'ms');
  assert.equal(latency?.dataPointType, DataPointType.HISTOGRAM);
  const lp = latency?.dataPoints[0]?.value as { count: number; sum: number; buckets: { boundaries: number[]; counts: number[] } };
  assert.equal(lp.count, 2);
  assert.equal(lp.sum, 2250);
  assert.deepEqual(lp.buckets.boundaries, [...BUCKETS.turnLatencyMs]);
  // 450 lands in (400, 500], 1800 in (1500, 2000].
  assert.equal(lp.buckets.counts[BUCKETS.turnLatencyMs.indexOf(500)], 1);
  assert.equal(lp.buckets.counts[BUCKETS.turnLatencyMs.indexOf(2000)], 1);

  const transcode = m.get(METRIC.transcodeDuration);
  assert.equal(transcode?.descriptor.unit, 'us');
  const byDir = new Map(transcode?.dataPoints.map((p) => [p.attributes['bridge.frame.direction'], (p.value as { count: number }).count]));
  assert.deepEqual(Object.fromEntries(byDir), { in: 1, out: 2 });
  const outSum = transcode?.dataPoints.find((p) => p.attributes['bridge.frame.direction'] === 'out')?.value as { sum: number };
  assert.equal(outSum.sum, 312, 'the first frame and the 9th were recorded');

  const lead = m.get(METRIC.outboundLead);
  assert.equal(lead?.descriptor.unit, 'ms');
  const leadPoint = lead?.dataPoints[0]?.value as { count: number; buckets: { boundaries: number[] } };
  assert.deepEqual(leadPoint.buckets.boundaries, [...BUCKETS.outboundLeadMs]);
  assert.equal(leadPoint.count, 1, 'one send in FRAME_SAMPLE_EVERY');
  await done();
});

test('frame counters are cumulative, observed at collection time, by direction and drop reason', async () => {
  const { bridge, collect, done } = memoryMetrics();
  for (let i = 0; i < 50; i++) bridge.framesInbound();
  bridge.framesOutbound(30);
  bridge.framesGapFilled(4);
  bridge.framesDropped('backpressure', 2);
  bridge.framesDropped('malformed');
  let m = await collect();
  const relayed = Object.fromEntries(points(m.get(METRIC.framesRelayed)).map((p) => [p.attributes['bridge.frame.direction'], p.value]));
  assert.deepEqual(relayed, { in: 50, out: 30 });
  assert.deepEqual(points(m.get(METRIC.framesGapFilled)), [{ attributes: {}, value: 4 }]);
  const dropped = Object.fromEntries(points(m.get(METRIC.framesDropped)).map((p) => [p.attributes['bridge.frame.drop_reason'], p.value]));
  assert.deepEqual(dropped, { backpressure: 2, malformed: 1 });

  bridge.framesInbound(10);
  m = await collect();
  const again = Object.fromEntries(points(m.get(METRIC.framesRelayed)).map((p) => [p.attributes['bridge.frame.direction'], p.value]));
  assert.deepEqual(again, { in: 60, out: 30 });
  await done();
});

test('upstream connects, reconnects, rollovers, reply timeouts and auth failures carry their attributes', async () => {
  const { bridge, collect, done } = memoryMetrics();
  bridge.upstreamConnect('ok');
  bridge.upstreamConnect('closed');
  bridge.upstreamConnect('ok');
  bridge.reconnect('ok');
  bridge.rollover('ok');
  bridge.replyTimeout();
  bridge.replyTimeout();
  bridge.authFailure('stream', 'bad_signature');
  bridge.authFailure('stream', 'bad_signature');
  bridge.authFailure('webhook', 'missing_signature');
  const m = await collect();
  const connects = Object.fromEntries(points(m.get(METRIC.upstreamConnects)).map((p) => [p.attributes['bridge.upstream.outcome'], p.value]));
  assert.deepEqual(connects, { ok: 2, closed: 1 });
  assert.deepEqual(points(m.get(METRIC.upstreamReconnects)), [{ attributes: { 'bridge.outcome': 'ok' }, value: 1 }]);
  assert.deepEqual(points(m.get(METRIC.upstreamRollovers)), [{ attributes: { 'bridge.outcome': 'ok' }, value: 1 }]);
  assert.deepEqual(points(m.get(METRIC.upstreamReplyTimeouts)), [{ attributes: {}, value: 2 }]);
  const auth = points(m.get(METRIC.authFailures)).map((p) => `${p.attributes['bridge.auth.surface']}/${p.attributes['bridge.auth.reason']}=${p.value}`).sort();
  assert.deepEqual(auth, ['stream/bad_signature=2', 'webhook/missing_signature=1']);
  await done();
});

test('event-loop delay: the monitor starts on first collection and reports seconds afterwards', async () => {
  const { collect, done } = memoryMetrics();
  let m = await collect();
  assert.equal(m.get(METRIC.eventLoopDelayP99)?.dataPoints.length ?? 0, 0, 'nothing before the monitor has run');
  // Block the loop briefly so the monitor has samples (real time is the point here).
  await new Promise((r) => setTimeout(r, 60));
  const until = Date.now() + 30;
  while (Date.now() < until) {
    /* busy */
  }
  await new Promise((r) => setTimeout(r, 30));
  m = await collect();
  const max = m.get(METRIC.eventLoopDelayMax)?.dataPoints[0]?.value as number;
  assert.equal(m.get(METRIC.eventLoopDelayMax)?.descriptor.unit, 's');
  assert.ok(max > 0.02 && max < 5, `max delay ${max}s should reflect the ~30 ms block`);
  assert.ok((m.get(METRIC.eventLoopDelayP50)?.dataPoints[0]?.value as number) > 0);
  await done();
});

test('with no MeterProvider registered, every method is a cheap no-op', () => {
  const bridge = new BridgeMetrics();
  bridge.callStarted();
  bridge.transcode('in', 10);
  bridge.framesInbound();
  bridge.authFailure('stream', 'ticket_expired');
  bridge.callEnded('completed');
  bridge.close();
});

test('hot path allocates no attribute objects per frame', async () => {
  const { bridge, done } = memoryMetrics();
  // The same frozen attribute object must be reused: record twice and compare identity via a spy meter.
  const seen: unknown[] = [];
  const spyMeter = {
    createUpDownCounter: () => ({ add: () => {} }),
    createCounter: () => ({ add: () => {} }),
    createHistogram: () => ({ record: (_v: number, a: unknown) => seen.push(a) }),
    createObservableCounter: () => ({}),
    createObservableGauge: () => ({}),
    addBatchObservableCallback: () => {},
    removeBatchObservableCallback: () => {},
  } as unknown as import('@opentelemetry/api').Meter;
  const spied = new BridgeMetrics(spyMeter);
  // Sampled: frames 0 and FRAME_SAMPLE_EVERY are the ones recorded.
  for (let i = 0; i <= FRAME_SAMPLE_EVERY; i++) spied.transcode('in', i);
  assert.equal(seen.length, 2);
  assert.equal(seen[0], seen[1]);
  assert.ok(Object.isFrozen(seen[0]));
  spied.close();
  bridge.close();
  await done();
});
