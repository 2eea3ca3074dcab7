// Unit tests of the call simulator's pure parts: the playback model on a fake
// clock, the script runner, TwiML parsing, bridge message validation, the
// Twilio message builders and signatures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import {
  CallScript,
  ClipCache,
  TwilioPlayback,
  decodeXmlEntities,
  loopbackStreamUrl,
  makeClip,
  mediaMessage,
  parseBridgeMessage,
  parseTwiml,
  signStreamUrl,
  signWebhook,
  startMessage,
  stopMessage,
  SILENT_PAYLOAD,
  type AssistantView,
} from '../src/devtools/call-simulator/index.js';
import { parseStep, scriptFromArgv } from '../src/devtools/call-simulator/cli-script.js';

const ulaw = (ms: number, code = 0x10): Uint8Array => new Uint8Array(ms * 8).fill(code);

test('playback: audio plays at 8 kHz from when it arrives; a mark is due when the audio before it has played', () => {
  const p = new TwilioPlayback();
  p.enqueue(100, ulaw(1000));
  assert.deepEqual(p.mark(100, 'm1'), []);
  assert.equal(p.queuedMs(100), 1000);
  assert.deepEqual(p.advance(600), []);
  assert.equal(p.isPlaying(600), true);
  assert.deepEqual(p.advance(1099.9), []);
  assert.deepEqual(p.advance(1100), ['m1']);
  assert.equal(p.isPlaying(1100), false);
  assert.equal(p.marks[0]!.dueAtMs, 1100);
  assert.equal(p.marks[0]!.ackedAtMs, 1100);
  // Nothing queued: a mark is due at once.
  assert.deepEqual(p.mark(1500, 'm2'), ['m2']);
  assert.deepEqual(p.spans, [{ startMs: 100, endMs: 1100 }]);
  assert.equal(p.maxLeadSamples, 8000);
});

test('playback: back-to-back chunks extend one span; a gap starts a new one; lead is the most ever queued', () => {
  const p = new TwilioPlayback();
  p.enqueue(0, ulaw(100));
  p.enqueue(50, ulaw(100)); // queued behind: plays 100..200
  p.enqueue(500, ulaw(40));
  assert.deepEqual(p.spans, [
    { startMs: 0, endMs: 200 },
    { startMs: 500, endMs: 540 },
  ]);
  assert.equal(p.maxLeadSamples, 150 * 8);
  assert.equal(p.heardMsSince(0, 520), 220);
  assert.equal(p.heardMsSince(150, 1000), 90);
  assert.equal(p.lastAudioEndMs, 540);
});

test('playback: clear drops unplayed audio, echoes pending marks at once, and silences the heard timeline from there', () => {
  const p = new TwilioPlayback();
  p.enqueue(0, ulaw(500, 0x00));
  assert.deepEqual(p.mark(0, 'a'), []);
  p.enqueue(0, ulaw(500, 0x00));
  assert.deepEqual(p.mark(0, 'b'), []);
  assert.deepEqual(p.clear(600), ['a', 'b']);
  assert.deepEqual(
    p.marks.map((m) => [m.name, m.ackedAtMs, m.viaClear]),
    [
      // 'a' had already played out at 500 ms: acknowledged as played, at the clear.
      ['a', 600, undefined],
      ['b', 600, true],
    ],
  );
  assert.deepEqual(p.clears, [{ atMs: 600, discardedMs: 400, marksFlushed: 1 }]);
  assert.equal(p.discardedSamples, 3200);
  assert.deepEqual(p.spans, [{ startMs: 0, endMs: 600 }]);
  const heard = p.heard(1200);
  assert.equal(heard.length, 9600);
  assert.ok(heard.subarray(0, 4800).every((v) => v !== 0), 'heard until the clear');
  assert.ok(heard.subarray(4800).every((v) => v === 0), 'silent after the clear');
  // After a clear, new audio starts at once.
  p.enqueue(700, ulaw(10));
  assert.equal(p.spans[1]!.startMs, 700);
});

test('playback: without recording the model still tracks time but keeps no samples', () => {
  const p = new TwilioPlayback({ record: false });
  p.enqueue(0, ulaw(100));
  assert.deepEqual(p.mark(0, 'x'), []);
  assert.deepEqual(p.advance(100), ['x']);
  assert.equal(p.heard(200).length, 0);
});

/** A hand-driven assistant for the script runner. */
class FakeAssistant implements AssistantView {
  readonly p = new TwilioPlayback({ record: false });
  isPlaying = (at: number): boolean => this.p.isPlaying(at);
  heardMsSince = (from: number, at: number): number => this.p.heardMsSince(from, at);
  get lastAudioEndMs(): number {
    return this.p.lastAudioEndMs;
  }
}

test('script: say, wait for the assistant to finish, dtmf, then hang up, one decision per 20 ms slot', () => {
  const speech = new Int16Array(160 * 3).fill(5000);
  const a = new FakeAssistant();
  const s = new CallScript([{ say: speech }, { waitFor: 'assistantDone', idleMs: 100 }, { dtmf: '12' }, { hangup: true }], new ClipCache());
  const slots: string[] = [];
  for (let slot = 0; slot < 100 && !slots.includes('hangup'); slot++) {
    const t = slot * 20;
    if (t === 200) a.p.enqueue(200, ulaw(100)); // the reply plays 200..300
    const d = s.nextFrame(t, a);
    slots.push(d.hangup ? 'hangup' : d.dtmf.length ? `dtmf${d.dtmf.join('')}` : d.silent ? '.' : 'S');
  }
  // 3 speech frames; silence until 100 ms after the reply ended at 300 (decided at slot end: slot 19 ends at 400).
  assert.equal(slots.join(''), 'SSS' + '.'.repeat(16) + 'dtmf1dtmf2hangup');
  assert.deepEqual(s.segments, [{ stepIndex: 0, bargeIn: false, startMs: 0, endMs: 60, voiceEndMs: 60 }]);
  assert.deepEqual(s.timeouts, []);
});

test('script: a wait that times out is recorded and the script goes on', () => {
  const s = new CallScript([{ waitFor: 'assistantAudio', timeoutMs: 100 }, { hangup: true }], new ClipCache());
  const a = new FakeAssistant();
  let slot = 0;
  while (!s.nextFrame(slot * 20, a).hangup) slot++;
  assert.equal(slot, 4); // decided at 100 ms, the end of slot 4
  assert.deepEqual(s.timeouts, [{ stepIndex: 0, step: 'waitFor assistantAudio', atMs: 100 }]);
});

test('script: barge-in waits for that much heard assistant audio, counted from the end of the caller\'s last speech', () => {
  const voiced = new Int16Array(160 * 2).fill(5000);
  const s = new CallScript([{ say: voiced }, { bargeIn: 100, say: voiced }], new ClipCache());
  const a = new FakeAssistant();
  a.p.enqueue(0, ulaw(30)); // heard during the caller's own speech: does not count
  a.p.enqueue(100, ulaw(1000));
  const kinds: string[] = [];
  for (let slot = 0; slot < 14; slot++) {
    const d = s.nextFrame(slot * 20, a);
    kinds.push(d.hangup ? 'H' : d.silent ? '.' : 'S');
  }
  // Speech 0..40; silence until 100 ms of the reply (from 100) are heard at
  // 200, the end of slot 9; speech in slots 9-10; then the script is over.
  assert.equal(kinds.join(''), 'SS.......SSHHH');
  assert.equal(s.segments[1]!.startMs, 180);
  assert.equal(s.segments[1]!.bargeIn, true);
});

test('caller clips: 20 ms μ-law frames, the last padded, silence detected per frame', () => {
  const samples = new Int16Array(400);
  samples.fill(3000, 160, 200);
  const clip = makeClip(samples);
  assert.equal(clip.payloads.length, 3);
  assert.deepEqual(clip.silent, [true, false, true]);
  assert.equal(clip.lastVoicedFrame, 1);
  assert.equal(clip.payloads[0], SILENT_PAYLOAD);
  assert.ok(clip.payloads.every((p) => Buffer.from(p, 'base64').length === 160));
  const fixture = new ClipCache().get('fixtures/caller-interrupt.wav');
  assert.equal(fixture.payloads.length, Math.ceil(24878 / 160));
  assert.ok(fixture.lastVoicedFrame > 0, 'fixture has speech');
});

test('TwiML: finds <Connect><Stream>, decodes entities once, tolerates comments, declarations and `>` in attributes', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<!-- <Stream url="wss://decoy"/> -->
<Response>
  <Say>Hello &amp; welcome</Say>
  <Connect>
    <Stream url="wss://voice.example.com/twilio/stream/abc&amp;def" statusCallback='https://voice.example.com/cb?a=1&amp;b=2'>
      <Parameter name="who" value="Tom &amp; &quot;Jerry&quot; &lt;3 &#x1F600; &#65;"/>
      <Parameter name='gt' value='a > b'/>
      <Parameter name="double" value="&amp;lt;"/>
    </Stream>
  </Connect>
</Response>`;
  const t = parseTwiml(xml);
  assert.equal(t.error, undefined);
  assert.deepEqual(t.verbs, ['Say', 'Connect']);
  assert.equal(t.stream!.url, 'wss://voice.example.com/twilio/stream/abc&def');
  assert.equal(t.stream!.attributes['statusCallback'], 'https://voice.example.com/cb?a=1&b=2');
  assert.deepEqual(t.stream!.parameters, { who: 'Tom & "Jerry" <3 😀 A', gt: 'a > b', double: '&lt;' });
  assert.equal(decodeXmlEntities('&bogus; &#xZZ; &amp;amp;'), '&bogus; &#xZZ; &amp;');
});

test('TwiML: unusable answers are reported, not thrown', () => {
  assert.match(parseTwiml('<Response><Start><Stream url="wss://x/y"/></Start></Response>').error!, /only <Connect><Stream>/);
  assert.match(parseTwiml('<Response><Say>hi</Say></Response>').error!, /no <Connect><Stream>/);
  assert.match(parseTwiml('<Response><Connect><Stream url="ws://x/y"/></Connect></Response>').error!, /not wss/);
  assert.match(parseTwiml('<Response><Connect><Stream url="wss://x/y?t=1"/></Connect></Response>').error!, /query string/);
  assert.match(parseTwiml('<Response><Connect><Stream url="wss://x/y"></Connect></Response>').error!, /mismatched/);
  assert.match(parseTwiml('not xml at all').error!, /no <Response>/);
  assert.match(parseTwiml('<Html><Connect><Stream url="wss://x/y"/></Connect></Html>').error!, /root element/);
});

test('bridge messages: media, mark and clear parse; everything Twilio would reject is a typed violation', () => {
  const sid = 'MZ' + 'a'.repeat(32);
  const media = parseBridgeMessage(JSON.stringify({ event: 'media', streamSid: sid, media: { payload: '/w==' } }), sid);
  assert.ok(media.ok && media.message.event === 'media', 'media parses');
  assert.deepEqual(media.ok && media.message.event === 'media' && [...media.message.audio], [0xff]);
  assert.deepEqual(parseBridgeMessage(`{"event":"mark","streamSid":"${sid}","mark":{"name":"n"}}`, sid), { ok: true, message: { event: 'mark', name: 'n' } });
  assert.deepEqual(parseBridgeMessage(`{"event":"clear","streamSid":"${sid}"}`, sid), { ok: true, message: { event: 'clear' } });
  const kind = (text: string): string => {
    const r = parseBridgeMessage(text, sid);
    return r.ok ? 'ok' : r.kind;
  };
  assert.equal(kind('{'), 'bad-json');
  assert.equal(kind('null'), 'not-an-object');
  assert.equal(kind(`{"event":"stop","streamSid":"${sid}"}`), 'unknown-event');
  assert.equal(kind(`{"event":"clear"}`), 'wrong-stream-sid');
  assert.equal(kind(`{"event":"media","streamSid":"${sid}","media":{"payload":"/w="}}`), 'bad-media');
  assert.equal(kind(`{"event":"media","streamSid":"${sid}","media":{"payload":"_w=="}}`), 'bad-media');
  assert.equal(kind(`{"event":"media","streamSid":"${sid}","media":{"payload":"/w==\\n"}}`), 'bad-media');
  assert.equal(kind(`{"event":"mark","streamSid":"${sid}"}`), 'bad-mark');
  // A big payload is validated without regex backtracking trouble.
  assert.equal(kind(JSON.stringify({ event: 'media', streamSid: sid, media: { payload: Buffer.alloc(3_000_000, 7).toString('base64') } })), 'ok');
});

test('builders: messages in Twilio\'s exact shape, numeric-looking fields as strings', () => {
  assert.deepEqual(JSON.parse(mediaMessage({ sequenceNumber: 4, streamSid: 'MZ1', chunk: 2, timestamp: 40, payload: 'AAAA' })), {
    event: 'media',
    sequenceNumber: '4',
    streamSid: 'MZ1',
    media: { track: 'inbound', chunk: '2', timestamp: '40', payload: 'AAAA' },
  });
  const start = JSON.parse(startMessage({ sequenceNumber: 1, streamSid: 'MZ1', accountSid: 'AC1', callSid: 'CA1', customParameters: { k: 'v' } }));
  assert.equal(start.sequenceNumber, '1');
  assert.deepEqual(start.start.mediaFormat, { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 });
  assert.deepEqual(JSON.parse(stopMessage({ sequenceNumber: 9, streamSid: 'MZ1', accountSid: 'AC1', callSid: 'CA1' })), {
    event: 'stop',
    sequenceNumber: '9',
    streamSid: 'MZ1',
    stop: { accountSid: 'AC1', callSid: 'CA1' },
  });
});

test('signatures: Twilio\'s documented example, and upgrade signatures the real library validates', () => {
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675310', Digits: '1234', From: '+14158675310', To: '+18005551212' };
  assert.equal(signWebhook('12345', 'https://example.com/myapp.php?foo=1&bar=2', params), 'L/OH5YylLD5NRKLltdqwSvS0BnU=');
  const url = 'wss://voice.example.com/twilio/stream/tkt';
  assert.ok(twilio.validateRequest('tok', signStreamUrl('tok', url), url, {}), 'twilio validates the upgrade signature');
  assert.equal(loopbackStreamUrl('http://127.0.0.1:8080', url), 'ws://127.0.0.1:8080/twilio/stream/tkt');
  // Twilio drops a query string from the stream URL.
  assert.equal(loopbackStreamUrl('http://127.0.0.1:8080/', `${url}?a=1`), 'ws://127.0.0.1:8080/twilio/stream/tkt');
});

test('CLI script: --wav and --step in command-line order', () => {
  const argv = ['--bridge', 'http://x', '--wav', 'a.wav', '--step', 'silence:500', '--step=barge:800:b:c.wav', '--step', 'wait:audio:3000', '--step', 'dtmf:12#', '--step', 'hangup'];
  assert.deepEqual(scriptFromArgv(argv), [
    { say: 'a.wav' },
    { waitFor: 'assistantDone', timeoutMs: 20_000 },
    { silenceMs: 500 },
    { bargeIn: 800, say: 'b:c.wav' },
    { waitFor: 'assistantAudio', timeoutMs: 3000 },
    { dtmf: '12#' },
    { hangup: true },
  ]);
  assert.deepEqual(parseStep('wait:done'), { waitFor: 'assistantDone' });
  assert.throws(() => parseStep('silence:soon'), /must be a number/);
  assert.throws(() => parseStep('wait:forever'), /wait:audio or wait:done/);
  assert.throws(() => parseStep('sing:x'), /unknown step kind/);
  assert.throws(() => scriptFromArgv(['--wav']), /needs a value/);
});
