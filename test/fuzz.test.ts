// Fuzzing the two parsers and both live sockets with random and mutated
// messages. Bounded in `npm test`; FUZZ_CASES=100000 npm test runs longer.
// Invariants: no exception, no crash, no unhandled rejection, a defined close
// code, and other calls unaffected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTwilioMessage } from '../src/twilio/media-stream-messages.js';
import { parseServerEvent } from '../src/upstream/server-events.js';
import { runSimulatedCall } from '../src/devtools/call-simulator/index.js';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, STREAM_SID, callSid, closed, eventually, mediaMessage, openStream, postWebhook, startBridge, startMessage, webhookFields } from './support/bridge-harness.js';
import { CASES, Rng, mutate, toWireText } from './support/fuzz.js';
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
  { type: 'response.output_audio_transcript.delta', item_id: 'item_2', delta: 'hello ' },
  { type: 'response.output_audio_transcript.done', response_id: 'resp_1', item_id: 'item_2', transcript: 'hello there' },
  { type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_1', transcript: 'hi' },
  { type: 'response.function_call_arguments.done', response_id: 'resp_1', item_id: 'item_3', call_id: 'c1', name: 'end_call', arguments: '{}' },
  { type: 'response.done', response: { id: 'resp_1', status: 'completed', usage: { input_tokens: 5, output_tokens: 9 } } },
  { type: 'error', error: { type: 'invalid_request_error', code: 'x', message: 'y' } },
];

test('parsers: random and mutated messages never throw and always give a typed verdict', () => {
  const rng = new Rng(0xc0ffee);
  const n = Math.max(CASES, 20_000);
  const reasons = new Set(['bad_json', 'not_an_object', 'unknown_event', 'bad_field', 'bad_base64']);
  for (let i = 0; i < n; i++) {
    const twilioText = toWireText(rng, mutate(rng, rng.pick(TWILIO_TEMPLATES)));
    const t = parseTwilioMessage(twilioText);
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
    const s = parseServerEvent(serverText);
    if (s.ok) assert.equal(typeof s.event.type, 'string', `case ${i}`);
    else assert.equal(typeof s.detail, 'string', `case ${i}`);
  }
});

test('Twilio socket: mutated message streams give defined outcomes; a healthy call beside them is untouched', async () => {
  const bridge = await startBridge({ TWILIO_MAX_MESSAGE_BYTES: '65536', MAX_TWILIO_MESSAGES_PER_SECOND: '100000' }, { connectUpstream: () => new Promise(() => {}) });
  try {
    const rng = new Rng(0xfeed);
    const streams = Math.max(Math.floor(CASES / 200), 12);
    const allowed = new Set([1000, 1003, 1008, 1009, 1011, 1006]);
    const healthySid = callSid();
    const healthyRes = await postWebhook(bridge.url, webhookFields(healthySid));
    const healthy = await openStream(bridge.url, healthyRes.streamUrl!);
    assert.ok('ws' in healthy, 'healthy call connected');
    healthy.ws.send(startMessage(healthySid));
    let healthyClosed = false;
    healthy.ws.once('close', () => (healthyClosed = true));

    for (let s = 0; s < streams; s++) {
      const sid = callSid();
      const res = await postWebhook(bridge.url, webhookFields(sid));
      const opened = await openStream(bridge.url, res.streamUrl!);
      assert.ok('ws' in opened, `stream ${s} connected`);
      const done = closed(opened.ws);
      opened.ws.send(startMessage(sid));
      for (let i = 0; i < 200 && opened.ws.readyState === opened.ws.OPEN; i++) {
        if (rng.next() < 0.01) opened.ws.send(Buffer.from([rng.int(256)]), { binary: true });
        else opened.ws.send(toWireText(rng, mutate(rng, rng.pick(TWILIO_TEMPLATES))));
        healthy.ws.send(mediaMessage(s * 200 + i));
      }
      if (opened.ws.readyState === opened.ws.OPEN) opened.ws.close();
      const { code } = await done;
      assert.ok(allowed.has(code), `stream ${s} closed with a defined code (${code})`);
    }
    assert.equal(healthyClosed, false, 'the healthy call is still up');
    healthy.ws.close();
    await eventually(() => bridge.calls.size === 0, 3000, 'every call to end');
    assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200);
  } finally {
    await bridge.close();
  }
});

test('upstream socket: a realtime server sending mutated events never breaks the call', async () => {
  // A hostile stand-in for the AI service: confirms the configuration like a real server, then sends mutated events.
  const rng = new Rng(0xbad5eed);
  const events = Math.max(Math.floor(CASES / 10), 1500);
  const upstream = await startScriptedUpstream((ws) => {
    ws.once('message', () => ws.send(JSON.stringify({ type: 'session.updated', session: {} })));
    let sent = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < 50 && sent < events && ws.readyState === ws.OPEN; i++, sent++) {
        ws.send(toWireText(rng, mutate(rng, rng.pick(SERVER_TEMPLATES))));
      }
      if (sent >= events) clearInterval(timer);
    }, 10);
    ws.on('close', () => clearInterval(timer));
  });
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl });
  try {
    const report = await runSimulatedCall({
      bridgeUrl: bridge.url,
      publicUrl: PUBLIC_URL,
      authToken: AUTH_TOKEN,
      accountSid: ACCOUNT_SID,
      script: [{ say: 'fixtures/caller-interrupt.wav' }, { hangup: true }],
    });
    // The call either ran to the caller's hang-up or was ended by the bridge with a defined code (e.g. an end_call tool).
    assert.ok(report.endReason === 'hangup step' || [1000, 1011].includes(report.closeCode ?? -1), `ended: ${report.endReason} ${report.closeCode}`);
    assert.deepEqual(report.violations, [], 'nothing invalid reached Twilio');
    assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200);
  } finally {
    await bridge.close();
    await upstream.close();
  }
});
