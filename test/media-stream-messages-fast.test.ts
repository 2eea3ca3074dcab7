// The byte-level fast path for Twilio `media` frames (parseMediaFast) against
// the JSON path it shortcuts: it must be taken for what Twilio and our
// stand-ins send, and for every input whatsoever the Buffer path must give
// exactly what `toString()` + the JSON path gives. Bounded in `npm test`;
// FUZZ_CASES=1000000 runs longer. A failure prints its case number and input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMediaFast, parseTwilioMessage, type ParseResult } from '../src/twilio/media-stream-messages.js';
import { SILENT_PAYLOAD, mediaMessage as simulatorMedia, newStreamSid } from '../src/devtools/call-simulator/index.js';
import { STREAM_SID, mediaMessage as harnessMedia } from './support/bridge-harness.js';
import { CASES, Rng, randomString, runDifferential, showBytes as show, shuffled } from './support/fuzz.js';

const PAYLOAD = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff)).toString('base64');

/** Twilio's own key order (streamSid last), as it arrives from a real call. */
function twilioMedia(o: { seq?: string; sid?: string; track?: string; chunk?: string; timestamp?: string; payload?: string } = {}): string {
  const seq = o.seq === undefined ? '' : `"sequenceNumber":"${o.seq}",`;
  return (
    `{"event":"media",${seq}"media":{"track":"${o.track ?? 'inbound'}","chunk":"${o.chunk ?? '2'}","timestamp":"${o.timestamp ?? '5'}",` +
    `"payload":"${o.payload ?? PAYLOAD}"},"streamSid":"${o.sid ?? STREAM_SID}"}`
  );
}

/** The order our simulator, load generator, harness and PROTOCOL.md use (streamSid before media). */
function ourMedia(o: { seq?: string; sid?: string; track?: string; chunk?: string; timestamp?: string; payload?: string } = {}): string {
  const seq = o.seq === undefined ? '' : `"sequenceNumber":"${o.seq}",`;
  return (
    `{"event":"media",${seq}"streamSid":"${o.sid ?? STREAM_SID}","media":{"track":"${o.track ?? 'inbound'}","chunk":"${o.chunk ?? '2'}",` +
    `"timestamp":"${o.timestamp ?? '5'}","payload":"${o.payload ?? PAYLOAD}"}}`
  );
}

/** The invariant: Buffer in equals text in, and whatever the fast path accepts the JSON path accepts identically. */
function agree(buf: Buffer, label: string): { fast: boolean; slowOk: boolean } {
  const slow: ParseResult = parseTwilioMessage(buf.toString());
  assert.deepEqual(parseTwilioMessage(buf), slow, `${label}: Buffer path differs from the string path for ${show(buf)}`);
  const fast = parseMediaFast(buf);
  if (fast !== undefined) {
    assert.ok(slow.ok, `${label}: fast path accepted what the JSON path rejects (${slow.ok ? '' : slow.reason}) for ${show(buf)}`);
    assert.deepEqual(fast, slow.message, `${label}: fast path result differs for ${show(buf)}`);
  }
  return { fast: fast !== undefined, slowOk: slow.ok };
}

test('the fast path takes what Twilio and our stand-ins send, with the JSON path\'s result', () => {
  const sid = newStreamSid();
  const frames = [
    simulatorMedia({ sequenceNumber: 3, streamSid: sid, chunk: 1, timestamp: 0, payload: SILENT_PAYLOAD }),
    simulatorMedia({ sequenceNumber: 123456, streamSid: sid, chunk: 123454, timestamp: 2469060, payload: PAYLOAD }),
    harnessMedia(0),
    harnessMedia(41, PAYLOAD),
    twilioMedia({ seq: '4' }),
    twilioMedia(),
    twilioMedia({ seq: '999999999999999', chunk: '999999999999999', timestamp: '000000000000007' }),
    ourMedia(),
    ourMedia({ seq: '1', track: 'outbound', payload: '' }),
    twilioMedia({ track: '', payload: 'AA==' }),
    twilioMedia({ track: 'a b~!', payload: 'AAA=' }),
  ];
  for (const [i, text] of frames.entries()) {
    const buf = Buffer.from(text);
    const fast = parseMediaFast(buf);
    assert.ok(fast, `frame ${i} takes the fast path: ${text.slice(0, 120)}`);
    const slow = parseTwilioMessage(text);
    assert.ok(slow.ok, `frame ${i} is valid`);
    assert.deepEqual(fast, slow.message, `frame ${i}`);
    assert.deepEqual(parseTwilioMessage(buf), slow, `frame ${i} through parseTwilioMessage`);
  }
  // A Buffer that is a view into a larger one, as ws may hand over.
  const big = Buffer.from(`xxxx${twilioMedia({ seq: '7' })}yyyy`);
  const view = big.subarray(4, big.length - 4);
  assert.deepEqual(parseMediaFast(view), (parseTwilioMessage(twilioMedia({ seq: '7' })) as { message: unknown }).message);
});

test('the fast path leaves every other form to the JSON path, which decides', () => {
  const cases: [string, 'fast' | 'slow ok' | 'rejected'][] = [
    // Valid JSON the fast path does not read: the JSON path accepts it.
    [twilioMedia().replace('"track":"inbound"', '"track":"\\u0069nbound"'), 'slow ok'],
    [twilioMedia().replace(PAYLOAD, PAYLOAD.replace('/', '\\/')), 'slow ok'],
    [twilioMedia() + ' ', 'slow ok'],
    [twilioMedia() + '\n', 'slow ok'],
    [twilioMedia().replace('"event":"media",', '"event": "media",'), 'slow ok'],
    [twilioMedia().replace('"chunk":"2"', '"chunk":2'), 'slow ok'],
    [twilioMedia().replace('"timestamp":"5"', '"timestamp":5'), 'slow ok'],
    [twilioMedia().replace('"track":"inbound",', ''), 'slow ok'],
    [twilioMedia().replace('"track":"inbound"', '"track":null'), 'slow ok'],
    [twilioMedia().replace('"track":"inbound"', '"track":"é"'), 'slow ok'],
    [twilioMedia({ seq: 'x' }), 'slow ok'],
    [twilioMedia({ seq: '' }), 'slow ok'],
    [twilioMedia({ seq: '4' }).replace('"sequenceNumber', '"extra":1,"sequenceNumber'), 'slow ok'],
    [twilioMedia().replace('}', ',"extra":1}'), 'slow ok'],
    [twilioMedia().replace('{"event":"media",', '{"streamSid":"' + STREAM_SID + '","event":"media",'), 'slow ok'],
    [JSON.stringify({ media: { payload: PAYLOAD, timestamp: '5', chunk: '2', track: 'inbound' }, streamSid: STREAM_SID, event: 'media' }), 'slow ok'],
    // Duplicate keys: JSON keeps the last one, the fast path never sees two.
    [twilioMedia().replace('"media":{', '"streamSid":"XX' + 'f'.repeat(32) + '","media":{'), 'slow ok'],
    // Invalid in the JSON path too.
    [twilioMedia({ payload: 'A===' }), 'rejected'],
    [twilioMedia({ payload: '====' }), 'rejected'],
    [twilioMedia({ payload: 'AA=A' }), 'rejected'],
    [twilioMedia({ payload: 'AAAAA' }), 'rejected'],
    [twilioMedia({ payload: 'AAA' }), 'rejected'],
    [twilioMedia({ payload: 'AA-_' }), 'rejected'],
    [twilioMedia({ chunk: '1234567890123456' }), 'rejected'],
    [twilioMedia({ timestamp: '' }), 'rejected'],
    [twilioMedia({ timestamp: '-1' }), 'rejected'],
    [twilioMedia({ timestamp: '1e3' }), 'rejected'],
    [twilioMedia({ timestamp: '٣' }), 'rejected'],
    [twilioMedia({ sid: 'mz' + 'a'.repeat(32) }), 'rejected'],
    [twilioMedia({ sid: 'MZ' + 'a'.repeat(31) }), 'rejected'],
    [twilioMedia({ sid: 'MZ' + 'a'.repeat(33) }), 'rejected'],
    [twilioMedia({ sid: 'MZ' + 'g'.repeat(32) }), 'rejected'],
    [twilioMedia().slice(0, -1), 'rejected'],
    [twilioMedia().replace('"event":"media"', '"event":"mediA"'), 'rejected'],
    // Boundaries the fast path does read.
    [twilioMedia({ chunk: '123456789012345' }), 'fast'],
    [twilioMedia({ timestamp: '0' }), 'fast'],
    [ourMedia({ payload: 'AB+/' }), 'fast'],
  ];
  for (const [i, [text, want]] of cases.entries()) {
    const buf = Buffer.from(text);
    const { fast, slowOk } = agree(buf, `case ${i}`);
    const got = fast ? 'fast' : slowOk ? 'slow ok' : 'rejected';
    assert.equal(got, want, `case ${i}: ${text.slice(0, 160)}`);
  }
  // Bytes that are not UTF-8 decode to U+FFFD on the JSON path; the fast path must not guess.
  const bad = Buffer.from(twilioMedia({ track: 'in?ound' }));
  bad[bad.indexOf('in?ound') + 2] = 0xff;
  assert.equal(agree(bad, 'invalid UTF-8').fast, false);
});

// --- the differential property test -------------------------------------------

const DIGITS = '0123456789';
const HEX = '0123456789abcdefABCDEF';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const TRACKS = ['inbound', 'outbound', 'inbound_track', '', 'a b~!{}[]:,'];

function randomDigits(rng: Rng): string {
  const roll = rng.next();
  if (roll < 0.05) return randomString(rng, DIGITS, 15);
  if (roll < 0.1) return randomString(rng, DIGITS, 16);
  if (roll < 0.15) return '0' + randomString(rng, DIGITS, rng.int(4));
  return String(rng.int(rng.pick([10, 1000, 100_000, 2 ** 31])));
}

function randomPayload(rng: Rng): string {
  const roll = rng.next();
  const bytes = roll < 0.7 ? 160 : roll < 0.99 ? rng.int(400) : 50_000 + rng.int(20_000);
  const raw = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) raw[i] = rng.int(256);
  return raw.toString('base64');
}

/** A media frame in one of the layouts the fast path reads, with random field values; sometimes off by one detail. */
function randomFrame(rng: Rng): string {
  const o = {
    ...(rng.next() < 0.7 ? { seq: randomDigits(rng) } : {}),
    sid: rng.next() < 0.95 ? 'MZ' + randomString(rng, HEX, 32) : randomString(rng, 'MZAC' + HEX, 30 + rng.int(6)),
    track: rng.next() < 0.9 ? rng.pick(TRACKS) : randomString(rng, ' !#$%&()*+,-./:;<=>?@[]^_`{|}~' + HEX, rng.int(12)),
    chunk: randomDigits(rng),
    timestamp: randomDigits(rng),
    payload: rng.next() < 0.9 ? randomPayload(rng) : randomString(rng, B64 + '=-_ ', 4 * rng.int(50) + rng.int(3)),
  };
  return rng.next() < 0.5 ? twilioMedia(o) : ourMedia(o);
}

const INSERTS = ['\\u0041', '\\u0022', '\\/', '\\"', '\\\\', ' ', '\n', '\t', ',', ':', '{', '}', '[', ']', '"', '=', '==', 'A', '0', 'é', '\u0000', ',"extra":1', ',"event":"stop"', 'null', '"', '1e3', '-'];
const MEDIA_FIELDS = ['chunk', 'timestamp', 'track', 'payload', 'streamSid', 'sequenceNumber', 'media', 'event'];

/** The same frame re-serialised another way (key order, spacing, escapes): the JSON path reads the same values. */
function reformat(rng: Rng, text: string): string {
  const shuffle = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(shuffled(rng, Object.entries(o)));
  const frame = JSON.parse(text) as Record<string, unknown>;
  const media = frame['media'] as Record<string, unknown>;
  const roll = rng.next();
  if (roll < 0.4) return JSON.stringify(shuffle({ ...frame, media: shuffle(media) }));
  if (roll < 0.6) return JSON.stringify(frame, null, rng.pick([1, 2, '\t']));
  if (roll < 0.8) return JSON.stringify({ ...frame, media: { ...media, chunk: Number(media['chunk']) } });
  // Escape one character of one string value, or \/ in the payload.
  return text.replace(rng.pick(['"inbound"', '"media"', 'MZ', '/']), (m) => (m === '/' ? '\\/' : m.replace(/[a-zA-Z]/, (c) => '\\u00' + c.charCodeAt(0).toString(16))));
}

const MEDIA_TEMPLATE: unknown = JSON.parse(harnessMedia(3));

test('differential: for random and damaged frames the Buffer path equals the string path', () => {
  const seed = 0x5eed_fa57;
  const n = Math.max(CASES, 40_000);
  const subject = { randomFrame, isValid: (t: string) => parseTwilioMessage(t).ok, reformat, inserts: INSERTS, fields: MEDIA_FIELDS, template: MEDIA_TEMPLATE, agree };
  const { fastTaken, leftToJsonAndValid, rejected } = runDifferential(subject, seed, n, [0.3, 0.4, 0.8, 0.95]);
  // The generator must exercise all three outcomes, or the equality above proves little.
  assert.ok(fastTaken > n * 0.2, `fast path taken ${fastTaken} of ${n}`);
  assert.ok(leftToJsonAndValid > n * 0.05, `valid frames left to the JSON path ${leftToJsonAndValid} of ${n}`);
  assert.ok(rejected > n * 0.2, `rejected ${rejected} of ${n}`);
});
