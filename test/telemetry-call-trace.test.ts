// One trace per call, asserted on a real call through real sockets (simulator
// → bridge → local peer) with a barge-in and an upstream reconnect, exported
// to memory. Also: every log line of such calls, at debug level, is scanned
// for the secrets the test planted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { readWav } from '../src/audio/wav.js';
import { SimulatedCall, type CallReport } from '../src/devtools/call-simulator/index.js';
import { startRealtimePeer, type PeerSession, type RealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { CallTracer } from '../src/telemetry/tracing.js';
import { ATTR, EVENT, SPAN } from '../src/telemetry/attributes.js';
import { ACCOUNT_SID, API_KEY, AUTH_TOKEN, PUBLIC_URL, eventually, startBridge, type RunningBridge } from './support/bridge-harness.js';

const REPLY = readWav('fixtures/assistant-reply.wav').samples.slice(0, 48_000); // 2 s
const CALLER_FROM = '+14155550123';

let peer: RealtimePeer;
let bridge: RunningBridge;
let exporter: InMemorySpanExporter;
let provider: BasicTracerProvider;

before(async () => {
  exporter = new InMemorySpanExporter();
  provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  peer = await startRealtimePeer({
    apiKey: API_KEY,
    reply: () => ({ type: 'audio', samples24k: REPLY, transcript: 'We open at nine on Saturdays.' }),
    vad: { silenceDurationMsOverride: 300 },
    pacing: { chunkMs: 100, deltasPerBurst: 1, burstIntervalMs: 100, firstDeltaDelayMs: 50 },
  });
  const tracer = new CallTracer({ tracer: provider.getTracer('test'), model: 'gpt-realtime' });
  bridge = await startBridge({ OPENAI_BASE_URL: peer.baseUrl, LOG_LEVEL: 'debug' }, { tracer });
});
after(async () => {
  await bridge.close();
  await peer.close();
  await provider.shutdown();
});

async function callWithBargeInAndDrop(): Promise<CallReport> {
  const first = peer.sessions.length;
  // Cut the socket 300 ms into the second answer of the call's first session: a reconnect mid-response.
  let responses = 0;
  let dropped = false;
  const onCreated = (s: PeerSession) => {
    if (s.index === first) responses++;
  };
  const onAudio = (s: PeerSession, info: { sentMs: number }) => {
    if (!dropped && s.index === first && responses === 2 && info.sentMs >= 300) {
      dropped = true;
      peer.faults.drop(s);
    }
  };
  peer.on('responseCreated', onCreated);
  peer.on('responseAudio', onAudio);
  const call = new SimulatedCall({
    bridgeUrl: bridge.url,
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    from: CALLER_FROM,
    script: [
      { say: 'fixtures/caller-question.wav' },
      { bargeIn: 600, say: 'fixtures/caller-interrupt.wav' },
      { waitFor: 'assistantDone', idleMs: 500 },
      { hangup: true },
    ],
  });
  const report = await call.run();
  peer.off('responseCreated', onCreated);
  peer.off('responseAudio', onAudio);
  assert.ok(dropped, 'the upstream drop was injected');
  await eventually(() => bridge.calls.size === 0, 3000, 'the call to end');
  return report;
}

let report: CallReport;

test('one trace per call: webhook root, stream, auth, mints, connects, turns, barge-in, reconnect', async () => {
  report = await callWithBargeInAndDrop();
  const spans = exporter.getFinishedSpans();
  const root = spans.find((s) => s.name === SPAN.call && s.attributes[ATTR.callSid] === report.callSid);
  assert.ok(root, 'root call span');
  const traceId = root.spanContext().traceId;
  const mine = spans.filter((s) => s.spanContext().traceId === traceId);
  const byName = (name: string) => mine.filter((s) => s.name === name);
  const parentOf = (s: ReadableSpan) => mine.find((p) => p.spanContext().spanId === s.parentSpanContext?.spanId);

  const [stream] = byName(SPAN.stream);
  assert.ok(stream, 'stream span in the same trace as the webhook root');
  assert.equal(parentOf(stream)?.name, SPAN.call);
  assert.equal(stream.attributes[ATTR.streamSid], report.streamSid);
  assert.equal(root.attributes[ATTR.callOutcome], 'completed');
  assert.ok(root.endTime[0] * 1e3 + root.endTime[1] / 1e6 >= stream.endTime[0] * 1e3 + stream.endTime[1] / 1e6 - 1, 'the root runs to the end of the stream');

  const auth = byName(SPAN.streamAuth);
  assert.equal(auth.length, 1);
  assert.equal(auth[0]!.attributes[ATTR.authOutcome], 'ok');

  const mints = byName(SPAN.tokenMint);
  const connects = byName(SPAN.upstreamConnect);
  assert.equal(mints.length, 2, 'a token mint per connection');
  assert.equal(connects.length, 2);
  assert.deepEqual(connects.map((c) => c.attributes[ATTR.upstreamAttempt]).sort(), [1, 2]);
  assert.ok(connects.every((c) => c.attributes[ATTR.upstreamOutcome] === 'ok'));
  assert.ok(!JSON.stringify(mints.map((m) => m.attributes)).includes('ek_'), 'no token values on spans');

  const [reconnect] = byName(SPAN.reconnect);
  assert.ok(reconnect, 'reconnect span');
  assert.equal(reconnect.attributes[ATTR.outcome], 'ok');
  assert.ok(connects.some((c) => parentOf(c) === reconnect), 'the second connect sits under the reconnect');

  const turns = byName(SPAN.turn);
  assert.ok(turns.length >= 2, `turn spans: ${turns.length}`);
  const answered = turns.find((t) => typeof t.attributes[ATTR.turnLatencyMs] === 'number');
  assert.ok(answered, 'a turn with its latency');
  assert.ok(answered.events.some((e) => e.name === EVENT.speechStopped));
  assert.ok(answered.events.some((e) => e.name === EVENT.firstAudio));
  const cut = turns.find((t) => t.attributes[ATTR.turnInterrupted] === true);
  assert.ok(cut, 'an interrupted turn');
  assert.equal(typeof cut.attributes[ATTR.turnHeardMs], 'number');
  assert.ok((cut.attributes[ATTR.turnHeardMs] as number) > 0);
  assert.ok(turns.every((t) => parentOf(t) === stream), 'turns are children of the stream');
});

test('secret scan: no planted secret or raw phone number appears in any log line at debug level', () => {
  assert.ok(report, 'the call ran');
  const lines = bridge.logs.map((l) => JSON.stringify(l));
  // The risky data really was logged, masked: webhook fields with the caller's number, the upgrade URL with the ticket.
  const webhookLine = bridge.logs.find((l) => l.msg === 'voice webhook received' && JSON.stringify(l).includes(report.callSid));
  assert.ok(webhookLine, 'the webhook fields were logged at debug');
  assert.match(JSON.stringify((webhookLine.fields as Record<string, unknown>).From), /\*{4,}0123/, 'caller number masked to its last 4 digits');
  const upgradeLine = bridge.logs.find((l) => l.msg === 'media stream upgrade received' && JSON.stringify(l).includes('[REDACTED]'));
  assert.ok(upgradeLine, 'the upgrade URL was logged with the ticket redacted');
  const ticket = new URL(report.streamUrl!).pathname.split('/').pop()!;
  const webhookSignature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice`, {});
  const streamSignature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, report.streamUrl!, {});
  const minted = peer.sessions.map((s) => s.credential.token).filter((t): t is string => typeof t === 'string' && t.startsWith('ek_'));
  assert.ok(minted.length >= 2, 'the peer knows the minted tokens');
  const secrets: Record<string, string> = {
    'Twilio auth token': AUTH_TOKEN,
    'OpenAI API key': API_KEY,
    'stream ticket': ticket,
    'stream ticket MAC': ticket.split('.')[1]!,
    'upgrade signature': streamSignature,
    'webhook signature (empty form)': webhookSignature,
    'caller number': CALLER_FROM,
    'caller number digits': CALLER_FROM.slice(1),
    ...Object.fromEntries(minted.map((t, i) => [`ek_ token ${i}`, t])),
  };
  for (const [what, secret] of Object.entries(secrets)) {
    const hit = lines.find((l) => l.includes(secret));
    assert.equal(hit, undefined, `${what} leaked into a log line`);
  }
  // Lines inside the call carry its identifiers.
  const callLines = bridge.logs.filter((l) => l.callSid === report.callSid);
  assert.ok(callLines.length > 5);
  assert.ok(callLines.every((l) => typeof l.trace_id === 'string' && typeof l.span_id === 'string'), 'trace ids on call lines');
  assert.ok(callLines.some((l) => l.streamSid === report.streamSid));
});
