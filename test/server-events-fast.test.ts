// The byte-level fast path for realtime `response.output_audio.delta` events
// (parseAudioDeltaFast) against the JSON path it shortcuts: it must be taken
// for what the realtime server and our peer send, and for every input
// whatsoever the Buffer path must give exactly what `toString()` + the JSON
// path gives. Bounded in `npm test`; FUZZ_CASES=1000000 runs longer. A failure
// prints its case number and input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAudioDeltaFast, parseServerEvent, type ServerEventParse } from '../src/upstream/server-events.js';
import { startRealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { connectToPeer, type RealtimeTestClient } from '../src/devtools/realtime-peer/test-client.js';
import { CASES, Rng, randomString, runDifferential, showBytes as show, shuffled } from './support/fuzz.js';

/** 20 ms of 24 kHz PCM16, as the server streams it: 960 bytes, 1280 base64 characters. */
const DELTA = Buffer.from(Array.from({ length: 960 }, (_, i) => (i * 37 + 11) & 0xff)).toString('base64');
const RESPONSE_ID = 'resp_CKzL0bL9qQ2fXyZrT8uVw';
const ITEM_ID = 'item_CKzL0c1d2E3f4G5h6I7j8';

type Fields = [key: string, json: string][];

/** The fields of a delta as the GA server sends them, in its order (type first), values as JSON text. */
function serverFields(o: { delta?: string; responseId?: string; itemId?: string; obfuscation?: string } = {}): Fields {
  const fields: Fields = [
    ['type', '"response.output_audio.delta"'],
    ['event_id', '"event_CKzL0e9aB8cD7eF6gH5iJ"'],
    ['response_id', JSON.stringify(o.responseId ?? RESPONSE_ID)],
    ['item_id', JSON.stringify(o.itemId ?? ITEM_ID)],
    ['output_index', '0'],
    ['content_index', '0'],
    ['delta', JSON.stringify(o.delta ?? DELTA)],
  ];
  if (o.obfuscation !== undefined) fields.push(['obfuscation', JSON.stringify(o.obfuscation)]);
  return fields;
}

const frame = (fields: Fields): string => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
const serverDelta = (o: Parameters<typeof serverFields>[0] = {}): string => frame(serverFields(o));

/** The invariant: Buffer in equals text in, and whatever the fast path accepts the JSON path accepts identically. */
function agree(buf: Buffer, label: string): { fast: boolean; slowOk: boolean } {
  const slow: ServerEventParse = parseServerEvent(buf.toString());
  assert.deepEqual(parseServerEvent(buf), slow, `${label}: Buffer path differs from the string path for ${show(buf)}`);
  const fast = parseAudioDeltaFast(buf);
  if (fast !== undefined) {
    assert.ok(slow.ok, `${label}: fast path accepted what the JSON path rejects (${slow.ok ? '' : slow.detail}) for ${show(buf)}`);
    assert.deepEqual(fast, slow.event, `${label}: fast path result differs for ${show(buf)}`);
  }
  return { fast: fast !== undefined, slowOk: slow.ok };
}

test("the fast path takes the server's and our peer's deltas, in any key order, with the JSON path's result", () => {
  const peerOrder = JSON.stringify({ event_id: 'event_abc12', type: 'response.output_audio.delta', response_id: 'resp_1', item_id: 'item_2', output_index: 0, content_index: 0, delta: DELTA });
  const reversed = frame(serverFields().reverse());
  const frames = [
    serverDelta(),
    serverDelta({ obfuscation: 'aB3dE' }),
    peerOrder,
    reversed,
    frame(serverFields({ obfuscation: '' }).reverse()),
    frame(serverFields().filter(([k]) => k === 'type' || k === 'response_id' || k === 'item_id' || k === 'delta')),
    frame(serverFields().map(([k, v]): [string, string] => [k, k.endsWith('_index') ? '123456789012345' : v])),
    serverDelta({ delta: '' }),
    serverDelta({ delta: 'A' }),
    serverDelta({ delta: 'AAAA'.repeat(16) + 'AB=' }),
    serverDelta({ delta: Buffer.alloc(48_000, 7).toString('base64') }),
    serverDelta({ responseId: '', itemId: '' }),
    serverDelta({ responseId: 'r'.repeat(31), itemId: 'i'.repeat(200) }),
    serverDelta({ itemId: ' !#$%&\'()*+,-./:;<=>?@[]^_`{|}~' }),
    serverDelta({ delta: '{type:response.done},x:[1]} ' }),
  ];
  for (const [i, text] of frames.entries()) {
    const buf = Buffer.from(text);
    const fast = parseAudioDeltaFast(buf);
    assert.ok(fast, `frame ${i} takes the fast path: ${text.slice(0, 160)}`);
    const slow = parseServerEvent(text);
    assert.ok(slow.ok, `frame ${i} is valid`);
    assert.deepEqual(fast, slow.event, `frame ${i}`);
    assert.deepEqual(parseServerEvent(buf), slow, `frame ${i} through parseServerEvent`);
  }
  // Buffers that are views into larger ones at every alignment, as ws may hand over.
  for (let offset = 0; offset < 8; offset++) {
    const text = serverDelta({ delta: DELTA.slice(0, 1280 - offset) });
    const big = Buffer.from('x'.repeat(offset) + text + 'yyyy');
    const view = big.subarray(offset, big.length - 4);
    assert.deepEqual(parseAudioDeltaFast(view), (parseServerEvent(text) as { event: unknown }).event, `view at offset ${offset}`);
  }
});

test('the fast path leaves every other form to the JSON path, which decides', () => {
  const base = serverDelta();
  const cases: [string, 'fast' | 'slow ok' | 'rejected'][] = [
    // Valid JSON the fast path does not read: the JSON path accepts it.
    [base.replace(`"${ITEM_ID}"`, `"\\u0069${ITEM_ID.slice(1)}"`), 'slow ok'],
    [base.replace(DELTA, DELTA.replace('/', '\\/')), 'slow ok'],
    [base.replace(`"${RESPONSE_ID}"`, `"${RESPONSE_ID}\\n"`), 'slow ok'],
    [base + ' ', 'slow ok'],
    [base + '\n', 'slow ok'],
    [' ' + base, 'slow ok'],
    [base.replace('"type":"', '"type": "'), 'slow ok'],
    [base.replace(',"delta"', ', "delta"'), 'slow ok'],
    [JSON.stringify(JSON.parse(base), null, 2), 'slow ok'],
    [base.replace('"output_index":0', '"output_index":0.0'), 'slow ok'],
    [base.replace('"output_index":0', '"output_index":-0'), 'slow ok'],
    [base.replace('"output_index":0', '"output_index":1e3'), 'slow ok'],
    [base.replace('"output_index":0', '"output_index":1234567890123456'), 'slow ok'],
    [base.replace('"content_index":0', '"content_index":"0"'), 'slow ok'],
    [base.replace('"content_index":0', '"content_index":null'), 'slow ok'],
    [base.replace('"event_id":"event_CKzL0e9aB8cD7eF6gH5iJ"', '"event_id":7'), 'slow ok'],
    [serverDelta({ obfuscation: 'x' }).replace('"obfuscation":"x"', '"obfuscation":{"a":1}'), 'slow ok'],
    [base.replace('{', '{"extra":1,'), 'slow ok'],
    [base.replace('{', '{"audio":{"delta":"x"},'), 'slow ok'],
    [base.replace('{', '{"typ":"x",'), 'slow ok'],
    [base.replace('"type":"response.output_audio.delta"', '"type":"response.output_audio_transcript.delta"'), 'slow ok'],
    [base.replace('"type":"response.output_audio.delta"', '"type":"response.output_audio.delta.x"'), 'slow ok'],
    [serverDelta({ itemId: 'é' }), 'slow ok'],
    [serverDelta({ itemId: '\u2028' }), 'slow ok'],
    [serverDelta({ delta: DELTA + '\u007f' }), 'slow ok'],
    [serverDelta({ responseId: 'a\u007fb' }), 'slow ok'],
    // Duplicate keys: JSON keeps the last one, the fast path never sees two.
    [base.replace('{', `{"delta":"AAAA",`), 'slow ok'],
    [base.replace('}', `,"response_id":"resp_other"}`), 'slow ok'],
    [base.replace('}', `,"event_id":"event_again"}`), 'slow ok'],
    [base.replace('}', `,"type":"response.output_audio.delta"}`), 'slow ok'],
    // Invalid or incomplete in the JSON path too.
    [base.replace('"output_index":0', '"output_index":01'), 'rejected'],
    [base.replace('"output_index":0', '"output_index":+1'), 'rejected'],
    [base.replace('"output_index":0', '"output_index":'), 'rejected'],
    [base.replace(`"${RESPONSE_ID}"`, '5'), 'rejected'],
    [base.replace(`"${ITEM_ID}"`, 'null'), 'rejected'],
    [base.replace(`"${DELTA}"`, '["x"]'), 'rejected'],
    [base.replace(`,"item_id":"${ITEM_ID}"`, ''), 'rejected'],
    [base.replace(`,"delta":"${DELTA}"`, ''), 'rejected'],
    [base.replace(DELTA, DELTA.slice(0, 600) + '\t' + DELTA.slice(601)), 'rejected'],
    [base.replace(DELTA, DELTA.slice(0, 600) + '\\x' + DELTA.slice(601)), 'rejected'],
    [base.replace(DELTA, DELTA.slice(0, 600) + '"' + DELTA.slice(601)), 'rejected'],
    [base.replace(ITEM_ID, 'a\u0000b'), 'rejected'],
    [base.replace('}', ',}'), 'rejected'],
    [base.replace('{', '{,'), 'rejected'],
    [base.slice(0, -1), 'rejected'],
    [base.slice(0, 700) + '}', 'rejected'],
    [base + '}', 'rejected'],
    [base + base, 'rejected'],
    ['{}', 'rejected'],
    ['', 'rejected'],
    ['}', 'rejected'],
    ['{"type":"response.output_audio.delta"}', 'rejected'],
    // Boundaries the fast path does read.
    [base.replace('"output_index":0', '"output_index":999999999999999'), 'fast'],
    [serverDelta({ itemId: '~'.repeat(33), responseId: ' ' }), 'fast'],
  ];
  for (const [i, [text, want]] of cases.entries()) {
    const buf = Buffer.from(text);
    const { fast, slowOk } = agree(buf, `case ${i}`);
    const got = fast ? 'fast' : slowOk ? 'slow ok' : 'rejected';
    assert.equal(got, want, `case ${i}: ${text.slice(0, 160)}`);
  }
  // Bytes that are not UTF-8 decode to U+FFFD on the JSON path (still valid JSON); the fast path must not guess.
  for (const at of [3, 700]) {
    const bad = Buffer.from(serverDelta({ itemId: 'in?ound', delta: DELTA }));
    bad[at === 3 ? bad.indexOf('in?ound') + 2 : bad.indexOf(DELTA) + at] = 0xff;
    assert.deepEqual(agree(bad, `invalid UTF-8 at ${at}`), { fast: false, slowOk: true });
  }
});

test('one bad byte anywhere in a string value, at any alignment, leaves the frame to the JSON path', () => {
  // Walks the byte-at-a-time head, the four-words-at-a-time body and the tail of the string check.
  const BAD = [0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xff, 0x5c, 0x22];
  let checked = 0;
  for (const [field, length] of [['delta', 1280], ['delta', 75], ['item_id', 40], ['response_id', 31]] as const) {
    const value = DELTA.slice(0, length);
    const text = field === 'delta' ? serverDelta({ delta: value }) : field === 'item_id' ? serverDelta({ itemId: value }) : serverDelta({ responseId: value });
    const start = text.indexOf(`"${field}":"`) + field.length + 4;
    for (let offset = 0; offset < 4; offset++) {
      const big = Buffer.alloc(offset + text.length);
      big.write(text, offset, 'latin1');
      const buf = big.subarray(offset);
      assert.ok(parseAudioDeltaFast(buf), `${field} ${length} at offset ${offset} is fast before damage`);
      for (let i = 0; i < length; i++) {
        const keep = buf[start + i]!;
        for (const b of BAD) {
          buf[start + i] = b;
          assert.equal(agree(buf, `${field}[${i}] = 0x${b.toString(16)} at offset ${offset}`).fast, false, `${field}[${i}] = 0x${b.toString(16)} at offset ${offset}`);
          checked++;
        }
        buf[start + i] = keep;
      }
    }
  }
  assert.ok(checked > 40_000, `${checked} damaged frames`);
});

test('every delta frame our realtime peer sends over a socket takes the fast path', async (t) => {
  const peer = await startRealtimePeer({ apiKey: 'sk-test', pacing: { chunkMs: 20, deltasPerBurst: 50, burstIntervalMs: 1, firstDeltaDelayMs: 0 } });
  const client: RealtimeTestClient = connectToPeer(peer, 'sk-test');
  t.after(async () => {
    client.terminate();
    await peer.close();
  });
  const raw: Buffer[] = [];
  client.ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) raw.push(data);
  });
  await client.next('session.created');
  const pcm = { type: 'audio/pcm', rate: 24000 };
  client.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: pcm, turn_detection: null }, output: { format: pcm } } } });
  await client.next('session.updated');
  client.send({ type: 'response.create' });
  await client.next('response.done', () => true, 10_000);
  const deltas = raw.filter((buf) => buf.includes('"type":"response.output_audio.delta"'));
  t.diagnostic(`${deltas.length} deltas of ${raw.length} frames`);
  assert.ok(deltas.length >= 5, `${deltas.length} deltas`);
  for (const [i, buf] of deltas.entries()) assert.deepEqual(agree(buf, `peer delta ${i}`), { fast: true, slowOk: true }, show(buf));
  for (const [i, buf] of raw.entries()) agree(buf, `peer frame ${i}`);
});

// --- the differential property test -------------------------------------------

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const PRINTABLE = ' !#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~';
const B64 = ID_CHARS + '+/';

function randomId(rng: Rng, prefix: string): string {
  const roll = rng.next();
  if (roll < 0.8) return prefix + randomString(rng, ID_CHARS, 22);
  if (roll < 0.85) return '';
  if (roll < 0.95) return randomString(rng, PRINTABLE, rng.int(40));
  return randomString(rng, ID_CHARS, 30 + rng.int(300));
}

function randomDelta(rng: Rng): string {
  const roll = rng.next();
  if (roll < 0.1) return randomString(rng, rng.next() < 0.5 ? B64 + '=' : PRINTABLE, rng.int(200));
  const bytes = roll < 0.8 ? 960 : roll < 0.99 ? rng.int(3000) : 50_000 + rng.int(20_000);
  const raw = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) raw[i] = rng.int(256);
  return raw.toString('base64');
}

function randomIndex(rng: Rng): string {
  const roll = rng.next();
  if (roll < 0.7) return String(rng.int(3));
  if (roll < 0.8) return String(rng.int(2 ** 31));
  if (roll < 0.85) return '1' + randomString(rng, '0123456789', 14 + rng.int(2));
  return rng.pick(['01', '-1', '-0', '1.0', '1e3', '0x1', '"0"', 'null', 'true', '[]', '{}', '']);
}

const WRONG_VALUES = ['5', 'null', 'true', '{}', '{"a":"b"}', '[]', '["x"]', '""', '"x"', '0'];
const OTHER_TYPES = ['response.output_audio_transcript.delta', 'response.output_audio.done', 'response.output_audio.delta ', 'Response.output_audio.delta', 'response.output_audio.deltas', 'response.output_audio'];

/** A delta in random key order with random values; sometimes off by one detail (a field missing, repeated, retyped or extra). */
function randomFrame(rng: Rng): string {
  let fields: Fields = [
    ['type', '"response.output_audio.delta"'],
    ['response_id', JSON.stringify(randomId(rng, 'resp_'))],
    ['item_id', JSON.stringify(randomId(rng, 'item_'))],
    ['delta', JSON.stringify(randomDelta(rng))],
  ];
  if (rng.next() < 0.8) fields.push(['event_id', JSON.stringify(randomId(rng, 'event_'))]);
  if (rng.next() < 0.8) fields.push(['output_index', randomIndex(rng)]);
  if (rng.next() < 0.8) fields.push(['content_index', randomIndex(rng)]);
  if (rng.next() < 0.3) fields.push(['obfuscation', JSON.stringify(randomString(rng, ID_CHARS, rng.int(16)))]);
  // The server's order half the time, a random one otherwise.
  fields = rng.next() < 0.5 ? fields : shuffled(rng, fields);
  if (rng.next() < 0.3) {
    const roll = rng.next();
    const at = rng.int(fields.length);
    if (roll < 0.2) fields.splice(at, 1);
    else if (roll < 0.4) fields.splice(rng.int(fields.length + 1), 0, rng.next() < 0.5 ? fields[at]! : [fields[at]![0], rng.pick(WRONG_VALUES)]);
    else if (roll < 0.6) fields[at] = [fields[at]![0], rng.pick(WRONG_VALUES)];
    else if (roll < 0.8) fields.splice(rng.int(fields.length + 1), 0, [rng.pick(['extra', 'audio', 'typ', 'deltas', 'item_ids', 'Type', '', 'obfuscation']), rng.pick(WRONG_VALUES)]);
    else fields[fields.findIndex(([k]) => k === 'type')] = ['type', JSON.stringify(rng.pick(OTHER_TYPES))];
  }
  return frame(fields);
}

const INSERTS = ['\\u0041', '\\u0022', '\\/', '\\"', '\\\\', '\\n', ' ', '\n', '\t', '\r', ',', ':', '{', '}', '[', ']', '"', '=', 'A', '0', '-', '.5', 'e3', 'é', '\u2028', '😀', '\u0000', '\u001f', ',"extra":1', ',"delta":"AAAA"', ',"type":"response.done"', ',"item_id":"x"', 'null'];
const DELTA_FIELDS = ['type', 'event_id', 'response_id', 'item_id', 'output_index', 'content_index', 'delta', 'obfuscation'];

/** The same event re-serialised another way (key order, spacing, escapes, number forms): the JSON path reads the same values. */
function reformat(rng: Rng, text: string): string {
  const event = JSON.parse(text) as Record<string, unknown>;
  const roll = rng.next();
  if (roll < 0.3) return JSON.stringify(Object.fromEntries(shuffled(rng, Object.entries(event))));
  if (roll < 0.5) return JSON.stringify(event, null, rng.pick([1, 2, '\t']));
  if (roll < 0.6) return JSON.stringify({ ...event, output_index: rng.pick([1.5, -1, 1e21, '0', null]) });
  // Escape one character of one string value, or \/ in the delta.
  return text.replace(rng.pick(['resp_', 'item_', 'event_', '/', 'audio']), (m) => (m === '/' ? '\\/' : m.replace(/[a-z]/, (c) => '\\u00' + c.charCodeAt(0).toString(16))));
}

const TEMPLATE: unknown = JSON.parse(serverDelta({ obfuscation: 'x1' }));

test('differential: for random and damaged frames the Buffer path equals the string path', () => {
  const seed = 0xde17_a5ed;
  const n = Math.max(CASES, 20_000);
  const subject = { randomFrame, isValid: (t: string) => parseServerEvent(t).ok, reformat, inserts: INSERTS, fields: DELTA_FIELDS, template: TEMPLATE, agree };
  // A third of the frames are read from a view into a larger buffer, as a socket read may hand one over.
  const { fastTaken, leftToJsonAndValid, rejected } = runDifferential(subject, seed, n, [0.35, 0.45, 0.8, 0.95], 0.3);
  // The generator must exercise all three outcomes, or the equality above proves little.
  assert.ok(fastTaken > n * 0.2, `fast path taken ${fastTaken} of ${n}`);
  assert.ok(leftToJsonAndValid > n * 0.1, `valid frames left to the JSON path ${leftToJsonAndValid} of ${n}`);
  assert.ok(rejected > n * 0.2, `rejected ${rejected} of ${n}`);
});

test('every shape ws can hand a message over in (Buffer, fragments, ArrayBuffer) parses to the same event', async () => {
  const { rawDataBytes } = await import('../src/upstream/realtime-connection.js');
  const text = JSON.stringify({ type: 'response.output_audio.delta', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, delta: 'AAECAw==' });
  const bytes = Buffer.from(text);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const shapes = [bytes, [bytes.subarray(0, 10), bytes.subarray(10, 57), bytes.subarray(57)], ab];
  for (const shape of shapes) {
    const parsed = parseServerEvent(rawDataBytes(shape));
    assert.ok(parsed.ok, `parsed from ${Array.isArray(shape) ? 'fragments' : shape.constructor.name}`);
    assert.deepEqual(parsed.event, { type: 'response.output_audio.delta', responseId: 'resp_1', itemId: 'item_1', delta: 'AAECAw==' });
  }
});
