// Fuzzing the two parsers and both live sockets with random and mutated
// messages. Bounded in `npm test`; FUZZ_CASES=100000 npm test runs longer.
// Invariants: no exception, no crash, no unhandled rejection, no call ending in
// 'error' and no error-level log line, the close code each case calls for, and
// other calls unaffected.
//
// On the sockets, messages that legitimately end a stream (a valid start or
// stop, a binary frame, an over-limit message, an end_call tool call) are kept
// out of the random mix: one would end the stream after a handful of messages
// and leave the rest unread. Each stream instead ends with one deliberate
// ending whose close code and outcome are asserted, and the test checks that
// every random message before it reached the live call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type WebSocket from 'ws';
import type { CallSummary } from '../src/call/call-session.js';
import { parseTwilioMessage } from '../src/twilio/media-stream-messages.js';
import { isFatalErrorCode } from '../src/upstream/reconnect-policy.js';
import { parseServerEvent } from '../src/upstream/server-events.js';
import { SimulatedCall, formatReport, type CallReport } from '../src/devtools/call-simulator/index.js';
import {
  ACCOUNT_SID,
  AUTH_TOKEN,
  PUBLIC_URL,
  STREAM_SID,
  callSid,
  closed,
  eventually,
  mediaMessage,
  openStream,
  postWebhook,
  startBridge,
  startMessage,
  stopMessage,
  webhookFields,
  type RunningBridge,
} from './support/bridge-harness.js';
import { CASES, LONG_STRING_LENGTH, Rng, mutate, toWireText } from './support/fuzz.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
before(() => process.on('unhandledRejection', onUnhandled));
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

const CALL = 'CA' + '1f'.repeat(16);
const TWILIO_TEMPLATES: unknown[] = [
  { event: 'connected', protocol: 'Call', version: '1.0.0' },
  JSON.parse(startMessage(CALL)),
  JSON.parse(mediaMessage(3)),
  { event: 'mark', sequenceNumber: '9', streamSid: STREAM_SID, mark: { name: 'g0.1' } },
  { event: 'dtmf', sequenceNumber: '9', streamSid: STREAM_SID, dtmf: { track: 'inbound_track', digit: '5' } },
  { event: 'stop', sequenceNumber: '9', streamSid: STREAM_SID, stop: { accountSid: ACCOUNT_SID, callSid: CALL } },
];
const SERVER_TEMPLATES: unknown[] = [
  { type: 'session.created', session: {} },
  { type: 'input_audio_buffer.speech_started', audio_start_ms: 100, item_id: 'item_1' },
  { type: 'input_audio_buffer.speech_stopped', audio_end_ms: 900, item_id: 'item_1' },
  { type: 'response.created', response: { id: 'resp_1' } },
  { type: 'response.output_audio.delta', response_id: 'resp_1', item_id: 'item_2', content_index: 0, delta: Buffer.alloc(960).toString('base64') },
  { type: 'response.output_audio_transcript.delta', response_id: 'resp_1', item_id: 'item_2', delta: 'hello ' },
  { type: 'response.output_audio_transcript.done', response_id: 'resp_1', item_id: 'item_2', transcript: 'hello there' },
  { type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_1', transcript: 'hi' },
  { type: 'response.function_call_arguments.done', response_id: 'resp_1', item_id: 'item_3', call_id: 'c1', name: 'end_call', arguments: '{}' },
  { type: 'response.function_call_arguments.done', response_id: 'resp_1', item_id: 'item_4', call_id: 'c2', name: 'lookup_hours', arguments: '{"day":"sat"}' },
  { type: 'response.done', response: { id: 'resp_1', status: 'completed', usage: { input_tokens: 5, output_tokens: 9 } } },
  { type: 'error', error: { type: 'invalid_request_error', code: 'x', message: 'y' } },
  { type: 'error', error: { type: 'invalid_request_error', code: 'response_cancel_not_active', message: 'y' } },
];

/** pino's level number for `error`: the bridge writes one only when something it did not plan for happened. */
const LOG_ERROR = 50;

function errorLogs(bridge: RunningBridge): Record<string, unknown>[] {
  return bridge.logs.filter((l) => typeof l.level === 'number' && l.level >= LOG_ERROR);
}

/** `promise`, or a failure naming `what` after `ms`: a stream the bridge never closes must fail the test, not hang it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function summaryOf(summaries: readonly CallSummary[], sid: string): CallSummary {
  const found = summaries.find((s) => s.callSid === sid);
  assert.ok(found, `a summary for ${sid}`);
  return found;
}

test('parsers: random and mutated messages never throw and always give a typed verdict', () => {
  const rng = new Rng(0xc0ffee);
  const n = Math.max(CASES, 20_000);
  const reasons = new Set(['bad_json', 'not_an_object', 'unknown_event', 'bad_field', 'bad_base64']);
  for (let i = 0; i < n; i++) {
    const twilioText = toWireText(rng, mutate(rng, rng.pick(TWILIO_TEMPLATES)));
    // The bridge hands the socket's bytes to the parser (its media fast path reads them); text takes the JSON path.
    const t = parseTwilioMessage(i % 2 === 0 ? Buffer.from(twilioText) : twilioText);
    if (t.ok) {
      assert.equal(typeof t.message.event, 'string', `case ${i}`);
      if (t.message.event === 'media') {
        assert.ok(Number.isSafeInteger(t.message.timestamp) && t.message.timestamp >= 0, `case ${i}: timestamp`);
        assert.match(t.message.payload, /^[A-Za-z0-9+/]*={0,2}$/, `case ${i}: payload`);
      }
    } else {
      assert.ok(reasons.has(t.reason), `case ${i}: reason ${t.reason}`);
    }
    const serverText = toWireText(rng, mutate(rng, rng.pick(SERVER_TEMPLATES)));
    const s = parseServerEvent(i % 2 === 0 ? Buffer.from(serverText) : serverText);
    if (s.ok) assert.equal(typeof s.event.type, 'string', `case ${i}`);
    else assert.equal(typeof s.detail, 'string', `case ${i}`);
  }
});

// --- the Twilio socket --------------------------------------------------------

const TWILIO_MAX_BYTES = 64 * 1024;
/** Random messages per stream, before its deliberate ending. */
const MESSAGES_PER_STREAM = 200;
/** Of those, how many go before `start` (wrong event order: marks, stops, DTMF and junk before the stream exists). */
const BEFORE_START = 10;

/**
 * What CallSession does with one Twilio text frame, mirrored from
 * src/call/call-session.ts (`onTwilioMessage`, `#handle`): 'ends' for a
 * message that ends the stream (kept out of the random mix), 'ignored' for one
 * it counts in the summary's `ignoredMessages`, 'handled' for the rest. An
 * exact ignored count then shows every random message reached the live call.
 */
function twilioVerdict(text: string, started: boolean): 'ends' | 'ignored' | 'handled' {
  if (Buffer.byteLength(text) > TWILIO_MAX_BYTES) return 'ends';
  const parsed = parseTwilioMessage(Buffer.from(text));
  if (!parsed.ok) return 'ignored';
  const m = parsed.message;
  switch (m.event) {
    case 'start':
      return 'ends'; // the start itself, or a second start, or one for another call
    case 'media':
      return !started ? 'ends' : m.streamSid === STREAM_SID ? 'handled' : 'ignored';
    case 'mark':
      return started && m.streamSid === STREAM_SID ? 'handled' : 'ignored';
    case 'stop':
      return !started || m.streamSid !== STREAM_SID ? 'ignored' : 'ends';
    default:
      return 'handled';
  }
}

interface Ending {
  readonly name: string;
  /** Sends no start: the random messages and the ending all arrive before it. */
  readonly beforeStart?: true;
  send(ws: WebSocket, sid: string): void;
  readonly code: number;
  readonly outcome: CallSummary['outcome'];
  readonly reason: RegExp;
}

const STOP: Ending = {
  name: 'valid stop',
  send: (ws, sid) => ws.send(stopMessage(sid)),
  code: 1000,
  outcome: 'completed',
  reason: /^Twilio stopped the stream$/,
};
const OVER_LIMIT: Ending = {
  name: 'over-limit message',
  // A well-formed media message a little over the limit: ws refuses the frame before the bridge sees it.
  send: (ws) => ws.send(mediaMessage(0, 'A'.repeat(TWILIO_MAX_BYTES))),
  code: 1009,
  outcome: 'twilio_closed',
  // Once ws has refused a frame it stops reading the socket, so the bridge's side never receives the peer's
  // answering close frame: its own close event reports 1006 while the peer is sent 1009.
  reason: /^Twilio socket closed \(1006\)$/,
};
/** The rare, deliberate endings: each stream in three ends with the next of these instead of a stop. */
const DELIBERATE: readonly Ending[] = [
  OVER_LIMIT,
  {
    name: 'binary frame',
    send: (ws) => ws.send(Buffer.from(mediaMessage(1)), { binary: true }),
    code: 1003,
    outcome: 'rejected',
    reason: /^binary frame on a Media Streams socket$/,
  },
  { name: 'second start', send: (ws, sid) => ws.send(startMessage(sid)), code: 1008, outcome: 'rejected', reason: /^a second start message$/ },
  { name: 'media before start', beforeStart: true, send: (ws) => ws.send(mediaMessage(0)), code: 1008, outcome: 'rejected', reason: /^media before start$/ },
];

test('Twilio socket: mutated message streams reach the live call and end only as deliberately ended; a healthy call beside them is untouched', async () => {
  const summaries: CallSummary[] = [];
  const bridge = await startBridge(
    // The AI session stays pending for the whole test. The default 20 s outage budget would then hand every call
    // still open to the fallback, whose REST call finds no Twilio API here and so closes with 1011: a legitimate
    // path, kept out of this test by a budget that cannot run out.
    { TWILIO_MAX_MESSAGE_BYTES: String(TWILIO_MAX_BYTES), MAX_TWILIO_MESSAGES_PER_SECOND: '100000', OUTAGE_BUDGET_MS: '600000' },
    { connectUpstream: () => new Promise(() => {}), onCallEnded: (s) => summaries.push(s) },
  );
  try {
    const rng = new Rng(0xfeed);
    const streams = Math.max(Math.floor(CASES / MESSAGES_PER_STREAM), 12);
    const healthySid = callSid();
    const healthyRes = await postWebhook(bridge.url, webhookFields(healthySid));
    const healthy = await openStream(bridge.url, healthyRes.streamUrl!);
    assert.ok('ws' in healthy, 'healthy call connected');
    healthy.ws.send(startMessage(healthySid));
    let healthyFrames = 0;
    let healthyClosed = false;
    healthy.ws.once('close', () => (healthyClosed = true));

    let planned = 0;
    let reached = 0;
    let keptOut = 0;
    let nearLimit = 0;
    const endingsSeen = new Map<string, number>();
    for (let s = 0; s < streams; s++) {
      const ending = s % 3 === 2 ? DELIBERATE[Math.floor(s / 3) % DELIBERATE.length]! : STOP;
      const label = `stream ${s} (seed 0xfeed, ending: ${ending.name})`;
      const sid = callSid();
      const res = await postWebhook(bridge.url, webhookFields(sid));
      const opened = await openStream(bridge.url, res.streamUrl!);
      assert.ok('ws' in opened, `${label} connected`);
      const ws = opened.ws;
      const done = closed(ws);
      let ignored = 0;
      let sent = 0;
      planned += MESSAGES_PER_STREAM;
      for (let i = 0; i < MESSAGES_PER_STREAM; i++) {
        const started = !ending.beforeStart && i >= BEFORE_START;
        if (started && i === BEFORE_START) ws.send(startMessage(sid));
        let text: string;
        let verdict: ReturnType<typeof twilioVerdict>;
        for (;;) {
          text = toWireText(rng, mutate(rng, rng.pick(TWILIO_TEMPLATES)));
          verdict = twilioVerdict(text, started);
          if (verdict !== 'ends') break;
          keptOut++;
        }
        ws.send(text);
        sent++;
        if (text.length >= LONG_STRING_LENGTH) nearLimit++;
        if (verdict === 'ignored') ignored++;
        healthy.ws.send(mediaMessage(healthyFrames++));
      }
      ending.send(ws, sid);
      const { code } = await within(done, 5000, `${label} to close`);
      assert.equal(code, ending.code, `${label}: close code`);
      await eventually(() => summaries.some((x) => x.callSid === sid), 3000, `${label}: call summary`);
      const summary = summaryOf(summaries, sid);
      assert.equal(summary.outcome, ending.outcome, `${label}: outcome (${summary.reason})`);
      assert.match(summary.reason, ending.reason, `${label}: reason`);
      // The call ended at the deliberate ending, so every message before it was read by the live call, and each
      // went the way the mirror above predicts: the ignored ones are all counted.
      assert.equal(summary.ignoredMessages, ignored, `${label}: ignored messages`);
      reached += sent;
      endingsSeen.set(ending.name, (endingsSeen.get(ending.name) ?? 0) + 1);
    }
    // Every planned message went to an open call (redrawn, not dropped, when it would have ended the stream),
    // and each stream's checks above show its messages were read before its ending.
    assert.equal(reached, planned, `${reached} of ${planned} random messages reached an open call`);
    assert.ok(LONG_STRING_LENGTH < TWILIO_MAX_BYTES && nearLimit > 0, `${nearLimit} messages within 1 KiB of the limit were read`);
    assert.deepEqual([...endingsSeen.keys()].sort(), [STOP, ...DELIBERATE].map((e) => e.name).sort(), 'every ending was exercised');
    // Stream-ending messages drawn by the mutator and redrawn: a share, not the bulk, or the mix is mostly waste.
    assert.ok(keptOut < planned * 0.2, `${keptOut} stream-ending messages kept out of ${planned}`);
    if (process.env.FUZZ_VERBOSE) console.log({ streams, planned, reached, keptOut, nearLimit, endings: Object.fromEntries(endingsSeen) });

    assert.equal(healthyClosed, false, 'the healthy call is still up');
    const healthyDone = closed(healthy.ws);
    healthy.ws.send(stopMessage(healthySid));
    assert.equal((await within(healthyDone, 5000, 'the healthy call to close')).code, 1000, 'the healthy call ends normally');
    await eventually(() => summaries.some((x) => x.callSid === healthySid), 3000, 'the healthy call summary');
    const h = summaryOf(summaries, healthySid);
    assert.equal(h.outcome, 'completed', `healthy call: ${h.reason}`);
    assert.equal(h.framesIn, healthyFrames, 'the healthy call took every frame it was sent');
    assert.equal(h.ignoredMessages, 0, 'the healthy call ignored nothing');

    await eventually(() => bridge.calls.size === 0, 3000, 'every call to end');
    assert.deepEqual(summaries.filter((x) => x.outcome === 'error'), [], 'no call ended in error');
    // A peer's oversized frame is the peer's fault: a warning and close 1009 (asserted per stream above), never an error.
    assert.deepEqual(errorLogs(bridge), [], 'no error-level log lines');
    assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200);
  } finally {
    await bridge.close();
  }
});

// --- the upstream socket --------------------------------------------------------

/**
 * How CallSession and RealtimeLink take one upstream frame: 'ends' for an event that ends or replaces the session
 * (end_call hangs up; a fatal error hands off; session_expired rolls over), kept out of the random mix;
 * 'malformed' for one the bridge sets aside; 'event' for a parsed event the call acts on.
 */
function serverVerdict(frame: Buffer, binary: boolean): 'ends' | 'malformed' | 'event' {
  if (binary) return 'malformed';
  const parsed = parseServerEvent(frame);
  if (!parsed.ok) return 'malformed';
  const e = parsed.event;
  if (e.type === 'response.function_call_arguments.done' && e.name === 'end_call') return 'ends';
  if (e.type === 'error' && (isFatalErrorCode(e.code) || e.code === 'session_expired')) return 'ends';
  return 'event';
}

/** 20 ms of a 440 Hz tone as a 24 kHz PCM16 delta: what the bystander's assistant says. */
function toneDelta(frame: number): string {
  const pcm = Buffer.alloc(960);
  for (let i = 0; i < 480; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (frame * 480 + i)) / 24_000)), i * 2);
  return pcm.toString('base64');
}

/** The flood's last frame: a call to an unknown tool, which the bridge answers on the same socket with this call id. */
const SENTINEL_CALL_ID = 'call_fuzz_sentinel';
const SENTINEL = JSON.stringify({
  type: 'response.function_call_arguments.done',
  response_id: 'resp_s',
  item_id: 'item_s',
  call_id: SENTINEL_CALL_ID,
  name: 'fuzz_sentinel',
  arguments: '{}',
});

test('upstream socket: a realtime server flooding one call with mutated events and binary frames never breaks it, and a call beside it is served normally', async () => {
  // A hostile stand-in for the AI service. The first session (the fuzzed call) confirms the configuration like a
  // real server, then floods mutated events; the second (the bystander) answers with a short spoken reply.
  const rng = new Rng(0xbad5eed);
  const events = Math.max(Math.floor(CASES / 10), 1500);
  const sent = { frames: 0, binary: 0, malformed: 0, events: 0, keptOut: 0 };
  let bystanderEnded = false;
  let floodDone!: () => void;
  const flooded = new Promise<void>((resolve) => (floodDone = resolve));
  let floodStarted!: () => void;
  const flooding = new Promise<void>((resolve) => (floodStarted = resolve));
  let sentinelAnswered = false;

  const flood = (ws: WebSocket) => {
    floodStarted();
    ws.on('message', (data) => {
      if (data.toString().includes(SENTINEL_CALL_ID)) sentinelAnswered = true;
    });
    const timer = setInterval(() => {
      // At least `events`, and on until the bystander has hung up, so its whole call runs beside the flood.
      if (sent.frames >= events && bystanderEnded) {
        clearInterval(timer);
        ws.send(SENTINEL);
        floodDone();
        return;
      }
      for (let i = 0; i < 50 && ws.readyState === ws.OPEN; i++) {
        const binary = rng.next() < 0.03;
        let frame: Buffer;
        let verdict: ReturnType<typeof serverVerdict>;
        for (;;) {
          frame = binary ? Buffer.from(Array.from({ length: rng.int(300) }, () => rng.int(256))) : Buffer.from(toWireText(rng, mutate(rng, rng.pick(SERVER_TEMPLATES))));
          verdict = serverVerdict(frame, binary);
          if (verdict !== 'ends') break;
          sent.keptOut++;
        }
        ws.send(frame, { binary });
        sent.frames++;
        if (binary) sent.binary++;
        if (verdict === 'malformed') sent.malformed++;
        else sent.events++;
      }
    }, 10);
    // A session the bridge dropped ends the flood early; the sentinel check below then fails.
    ws.on('close', () => {
      clearInterval(timer);
      floodDone();
    });
  };
  const answer = (ws: WebSocket) => {
    ws.send(JSON.stringify({ type: 'response.created', response: { id: 'resp_b' } }));
    for (let f = 0; f < 15; f++) {
      ws.send(JSON.stringify({ type: 'response.output_audio.delta', response_id: 'resp_b', item_id: 'item_b', content_index: 0, delta: toneDelta(f) }));
    }
    ws.send(JSON.stringify({ type: 'response.done', response: { id: 'resp_b', status: 'completed', usage: { input_tokens: 5, output_tokens: 9 } } }));
  };

  let sessions = 0;
  const upstream = await startScriptedUpstream((ws) => {
    const role = sessions++ === 0 ? flood : answer;
    let received = 0;
    ws.on('message', () => {
      received++;
      if (received === 1) ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
      // The bridge sends caller audio only once the session serves the call: from then on every frame reaches it.
      if (received === 2) role(ws);
    });
  });
  const summaries: CallSummary[] = [];
  // Comfort audio off: what the bystander hears is the assistant's reply and nothing else.
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl, COMFORT_AUDIO: 'off' }, { onCallEnded: (s) => summaries.push(s) });
  const place = (script: ConstructorParameters<typeof SimulatedCall>[0]['script']) =>
    new SimulatedCall({ bridgeUrl: bridge.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, callSid: callSid(), script });
  try {
    const fuzzed = place([{ say: 'fixtures/caller-interrupt.wav' }, { silenceMs: 120_000 }]);
    const fuzzedDone = fuzzed.run();
    await within(flooding, 5000, 'the flood to start');
    const bystander = place([{ silenceMs: 100 }, { waitFor: 'assistantAudio', timeoutMs: 5000 }, { silenceMs: 500 }, { hangup: true }]);
    const bystanderReport = await bystander.run();
    bystanderEnded = true;
    await within(flooded, 10_000 + events, 'the flood to end');

    // The bridge answered the flood's last frame on the same socket: it was read by the live call, and so was
    // every frame before it (one socket delivers in order; a dropped or replaced session never serves again).
    const fuzzedEnded = () => summaries.some((s) => s.callSid === fuzzed.callSid);
    await eventually(() => sentinelAnswered || fuzzedEnded(), 5000, 'the sentinel tool call to be answered').catch(() => {});
    assert.ok(sentinelAnswered, `the fuzzed call read all ${sent.frames} flooded frames and the sentinel after them`);
    assert.ok(!fuzzedEnded(), 'the fuzzed call is still up after the flood');
    fuzzed.hangup('flood over');
    const fuzzedReport: CallReport = await fuzzedDone;
    if (process.env.FUZZ_VERBOSE) console.log({ planned: events, ...sent });

    assert.ok(sent.frames >= events, `${sent.frames} frames flooded`);
    assert.ok(sent.binary > 0, 'binary frames were in the mix');
    // Depth: a good share of the flood parses as events the call acts on, not only junk set aside.
    assert.ok(sent.events >= sent.frames * 0.3, `${sent.events} of ${sent.frames} frames were well-formed events`);
    assert.ok(sent.keptOut < sent.frames * 0.2, `${sent.keptOut} call-ending events kept out of ${sent.frames}`);
    assert.equal(fuzzedReport.endReason, 'flood over', formatReport(fuzzedReport));
    assert.deepEqual(fuzzedReport.violations, [], 'nothing invalid reached Twilio on the fuzzed call');

    assert.equal(bystanderReport.endReason, 'hangup step', formatReport(bystanderReport));
    assert.deepEqual(bystanderReport.scriptTimeouts, [], 'the bystander heard its answer in time');
    assert.ok(bystanderReport.audioReceivedMs >= 250, `the bystander heard the reply (${bystanderReport.audioReceivedMs} ms)`);
    assert.deepEqual(bystanderReport.violations, [], 'nothing invalid reached Twilio on the bystander call');

    await eventually(() => summaries.length === 2, 3000, 'both calls to end');
    for (const [name, sid] of [['fuzzed', fuzzed.callSid], ['bystander', bystander.callSid]] as const) {
      const s = summaryOf(summaries, sid);
      assert.equal(s.outcome, 'completed', `${name} call: ${s.reason}`);
      assert.equal(s.reconnects + s.rollovers, 0, `${name} call kept its one AI session`);
    }
    assert.equal(upstream.accepted(), 2, 'one AI session per call, none replaced');
    assert.deepEqual(errorLogs(bridge), [], 'no error-level log lines');
    assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200);
  } finally {
    await bridge.close();
    await upstream.close();
  }
});
