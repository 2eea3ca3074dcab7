import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTwilioMessage } from '../src/twilio/media-stream-messages.js';
import { clearMessage, markMessage, mediaMessage } from '../src/twilio/media-stream-writer.js';

const STREAM = 'MZ' + '0f'.repeat(16);
const CALL = 'CA' + 'a1'.repeat(16);
const ACCOUNT = 'AC' + '0123456789abcdef'.repeat(2);

test('start is parsed with its format and custom parameters', () => {
  const r = parseTwilioMessage(
    JSON.stringify({
      event: 'start',
      sequenceNumber: '1',
      streamSid: STREAM,
      start: {
        accountSid: ACCOUNT,
        streamSid: STREAM,
        callSid: CALL,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { callSid: CALL, from: '+15550001111', junk: 5 },
      },
    }),
  );
  assert.ok(r.ok && r.message.event === 'start');
  assert.equal(r.message.callSid, CALL);
  assert.deepEqual(r.message.customParameters, { callSid: CALL, from: '+15550001111' });
});

test('media numbers arrive as strings and are parsed; payload shape is checked', () => {
  const media = (payload: unknown, timestamp: unknown = '40') =>
    parseTwilioMessage(JSON.stringify({ event: 'media', streamSid: STREAM, media: { track: 'inbound', chunk: '3', timestamp, payload } }));
  const ok = media(Buffer.alloc(160, 0xff).toString('base64'));
  assert.ok(ok.ok && ok.message.event === 'media' && ok.message.timestamp === 40 && ok.message.chunk === 3);
  assert.deepEqual(media('not base64!').ok, false);
  assert.equal((media('abc') as { reason: string }).reason, 'bad_base64');
  assert.equal((media(12) as { reason: string }).reason, 'bad_field');
  assert.equal((media('', '-1') as { reason: string }).reason, 'bad_field');
});

test('garbage gets a reason, never an exception', () => {
  const reasons = ['{', '[]', 'null', '"x"', '{"event":"hello"}', '{"event":"mark","streamSid":"MZ1"}', '{"event":"start"}', '{}'].map((t) => {
    const r = parseTwilioMessage(t);
    return r.ok ? 'ok' : r.reason;
  });
  assert.deepEqual(reasons, ['bad_json', 'not_an_object', 'not_an_object', 'not_an_object', 'unknown_event', 'bad_field', 'bad_field', 'unknown_event']);
});

test('writer output is valid JSON in the shape Twilio expects', () => {
  assert.deepEqual(JSON.parse(mediaMessage(STREAM, new Uint8Array([1, 2, 3]))), { event: 'media', streamSid: STREAM, media: { payload: 'AQID' } });
  assert.deepEqual(JSON.parse(markMessage(STREAM, 'g0.1')), { event: 'mark', streamSid: STREAM, mark: { name: 'g0.1' } });
  assert.deepEqual(JSON.parse(clearMessage(STREAM)), { event: 'clear', streamSid: STREAM });
});
