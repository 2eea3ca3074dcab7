// Pure parts of the local realtime peer, without sockets: VAD, token store,
// client event parsing, session configuration, conversation, pacing, audio.

import { describe, test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EnergyVad, thresholdToDbfs, type VadParams } from '../src/devtools/realtime-peer/vad.js';
import { TokenStore } from '../src/devtools/realtime-peer/token-store.js';
import { parseClientEvent } from '../src/devtools/realtime-peer/client-events.js';
import { applySessionUpdate, defaultSessionConfig, sessionToWire } from '../src/devtools/realtime-peer/session-config.js';
import { Conversation, type ConversationItem } from '../src/devtools/realtime-peer/conversation.js';
import { ResponseStream, transcriptPieces } from '../src/devtools/realtime-peer/response-stream.js';
import { decodeAudio, downsample24kTo8k, encodeAudio } from '../src/devtools/realtime-peer/audio-format.js';
import { PeerFaults, type FaultAction, type SocketControl } from '../src/devtools/realtime-peer/faults.js';
import type { PeerSession } from '../src/devtools/realtime-peer/recording.js';

const RATE = 8000;
const PARAMS: VadParams = { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 200, minSpeechMs: 30 };

/** ms of a 300 Hz tone at `dbfs`, or digital silence when dbfs is null. */
function audio(ms: number, dbfs: number | null): Int16Array {
  const out = new Int16Array((RATE * ms) / 1000);
  if (dbfs === null) return out;
  const amp = Math.SQRT2 * 32768 * 10 ** (dbfs / 20);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * 300 * i) / RATE));
  return out;
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('EnergyVad', () => {
  test('threshold maps 0..1 onto -70..-20 dBFS', () => {
    assert.equal(thresholdToDbfs(0), -70);
    assert.equal(thresholdToDbfs(0.5), -45);
    assert.equal(thresholdToDbfs(1), -20);
    assert.equal(thresholdToDbfs(7), -20);
  });

  test('silence and quiet noise never start a turn', () => {
    const vad = new EnergyVad(PARAMS, RATE);
    assert.deepEqual(vad.feed(audio(2000, null)), []);
    assert.deepEqual(vad.feed(audio(2000, -60)), []);
    assert.equal(vad.positionMs, 4000);
  });

  test('speech: start includes the prefix padding, end includes the silence', () => {
    const vad = new EnergyVad(PARAMS, RATE);
    const events = vad.feed(concat(audio(1000, null), audio(800, -20), audio(500, null)));
    assert.deepEqual(events, [
      { type: 'speechStarted', audioStartMs: 700 },
      { type: 'speechStopped', audioEndMs: 2000 },
    ]);
  });

  test('a click shorter than minSpeechMs is ignored; pauses shorter than the silence keep the turn', () => {
    const vad = new EnergyVad(PARAMS, RATE);
    assert.deepEqual(vad.feed(concat(audio(500, null), audio(20, -10), audio(500, null))), []);
    const events = vad.feed(concat(audio(300, -20), audio(150, null), audio(300, -20), audio(300, null)));
    assert.deepEqual(events.map((e) => e.type), ['speechStarted', 'speechStopped']);
  });

  test('the result does not depend on how audio is chunked', () => {
    const signal = concat(audio(400, null), audio(600, -25), audio(300, null), audio(500, -30), audio(400, null));
    const whole = new EnergyVad(PARAMS, RATE).feed(signal);
    const chunked = new EnergyVad(PARAMS, RATE);
    const events = [];
    for (let i = 0; i < signal.length; i += 37) events.push(...chunked.feed(signal.subarray(i, i + 37)));
    assert.deepEqual(events, whole);
    assert.equal(whole.length, 4);
  });

  test('a higher threshold ignores quieter speech; 0 hears it', () => {
    const quiet = concat(audio(300, -40), audio(400, null));
    assert.deepEqual(new EnergyVad({ ...PARAMS, threshold: 0.8 }, RATE).feed(quiet), []);
    assert.equal(new EnergyVad({ ...PARAMS, threshold: 0 }, RATE).feed(quiet).length, 2);
  });

  test('resetTurn forgets a turn in progress but keeps the clock', () => {
    const vad = new EnergyVad(PARAMS, RATE);
    assert.equal(vad.feed(audio(300, -20)).length, 1);
    assert.equal(vad.isSpeaking, true);
    vad.resetTurn();
    assert.deepEqual(vad.feed(audio(500, null)), []);
    assert.equal(vad.positionMs, 800);
  });
});

describe('TokenStore', () => {
  test('mints ek_ tokens within 10..7200 s and classifies credentials', () => {
    let now = 1_000_000_000_000;
    const store = new TokenStore<string>('sk-key', () => now);
    assert.throws(() => store.mint(9, 's'), RangeError);
    assert.throws(() => store.mint(7201, 's'), RangeError);
    assert.throws(() => store.mint(10.5, 's'), RangeError);
    const t = store.mint(10, 'session');
    assert.match(t.value, /^ek_[A-Za-z0-9_-]{32}$/);
    assert.equal(t.expiresAt, 1_000_000_010);
    assert.deepEqual(store.check('sk-key'), { kind: 'apiKey' });
    assert.deepEqual(store.check('sk-other'), { kind: 'unknown' });
    assert.equal(store.check(t.value).kind, 'ephemeral');
    now += 9_999;
    assert.equal(store.check(t.value).kind, 'ephemeral');
    now += 1;
    const expired = store.check(t.value);
    assert.equal(expired.kind, 'expired');
    assert.equal(expired.kind === 'expired' && expired.token.session, 'session');
  });
});

describe('parseClientEvent', () => {
  test('rejects bad JSON, non-objects, missing or unknown types', () => {
    const code = (text: string) => {
      const r = parseClientEvent(text);
      return r.ok ? 'ok' : r.error.code;
    };
    assert.equal(code('{'), 'invalid_json');
    assert.equal(code('[]'), 'invalid_event');
    assert.equal(code('{"type":5}'), 'invalid_event');
    assert.equal(code('{"type":"session.create"}'), 'invalid_event');
    assert.equal(code('{"type":"input_audio_buffer.append"}'), 'missing_required_parameter');
    assert.equal(code('{"type":"input_audio_buffer.append","audio":"not base64!"}'), 'invalid_value');
    assert.equal(code('{"type":"input_audio_buffer.append","audio":"AAAA"}'), 'ok');
    assert.equal(code('{"type":"conversation.item.truncate","item_id":"a","content_index":0,"audio_end_ms":1.5}'), 'invalid_value');
    assert.equal(code('{"type":"conversation.item.create","item":{"type":"message","role":"tool","content":[]}}'), 'invalid_value');
    assert.equal(code('{"type":"conversation.item.create","item":{"type":"function_call_output","call_id":"c"}}'), 'missing_required_parameter');
    assert.equal(code('{"type":"conversation.item.create","previous_item_id":3,"item":{}}'), 'invalid_type');
    assert.equal(code('{"type":"response.create","response":{"output_modalities":["audio","text"]}}'), 'invalid_value');
    assert.equal(code('{"type":"response.cancel","response_id":7}'), 'invalid_type');
  });

  test('keeps event_id and names the parameter relative to the event', () => {
    const r = parseClientEvent('{"type":"conversation.item.truncate","event_id":"e1","item_id":"a","content_index":0}');
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.event_id, 'e1');
      assert.equal(r.error.param, 'audio_end_ms');
      assert.equal(r.eventType, 'conversation.item.truncate');
    }
    const ok = parseClientEvent('{"type":"response.cancel","event_id":"e2"}');
    assert.deepEqual(ok, { ok: true, event: { type: 'response.cancel', event_id: 'e2' } });
  });
});

describe('session configuration', () => {
  const base = defaultSessionConfig('gpt-realtime');

  test('applies a GA session.update and reports it in the wire shape', () => {
    const r = applySessionUpdate(base, {
      type: 'realtime',
      instructions: 'hi',
      audio: {
        input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad', threshold: 0.7, silence_duration_ms: 300, interrupt_response: false } },
        output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' },
      },
    }, false);
    assert.ok(r.ok, 'r.ok');
    if (!r.ok) return;
    const wire = sessionToWire('sess_1', r.config, 123);
    assert.deepEqual(wire.audio.input.format, { type: 'audio/pcmu' });
    assert.deepEqual(wire.audio.input.turn_detection, {
      type: 'server_vad', threshold: 0.7, prefix_padding_ms: 300, silence_duration_ms: 300, idle_timeout_ms: null, create_response: true, interrupt_response: false,
    });
    assert.equal(wire.audio.output.voice, 'marin');
    assert.equal(wire.instructions, 'hi');
  });

  test('rejects beta fields, bad formats, a missing type and a voice change after audio; the old config stands', () => {
    const err = (patch: unknown, locked = false) => {
      const r = applySessionUpdate(base, patch, locked);
      return r.ok ? 'ok' : `${r.error.code} ${r.error.param}`;
    };
    assert.equal(err({ instructions: 'x' }), 'missing_required_parameter session.type');
    assert.equal(err({ type: 'realtime', modalities: ['audio'] }), 'unknown_parameter session.modalities');
    assert.equal(err({ type: 'realtime', turn_detection: null }), 'unknown_parameter session.turn_detection');
    assert.equal(err({ type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } }), 'invalid_value session.audio.input.format.rate');
    assert.equal(err({ type: 'realtime', audio: { input: { format: { type: 'g711_ulaw' } } } }), 'invalid_value session.audio.input.format.type');
    assert.equal(err({ type: 'realtime', audio: { input: { turn_detection: { type: 'server_vad', threshold: 2 } } } }), 'invalid_value session.audio.input.turn_detection.threshold');
    assert.equal(err({ type: 'realtime', audio: { output: { voice: 'ash' } } }, true), 'cannot_update_voice session.audio.output.voice');
    assert.equal(err({ type: 'realtime', audio: { output: { voice: 'alloy' } } }, true), 'ok');
    assert.equal(err({ type: 'realtime', audio: { input: { turn_detection: null } } }), 'ok');
  });
});

describe('Conversation', () => {
  const msg = (id: string): ConversationItem => ({ id, object: 'realtime.item', type: 'message', status: 'completed', role: 'user', content: [{ type: 'input_text', text: id }] });

  test('inserts by previous_item_id (append, root, after an id) and refuses unknown ids and duplicates', () => {
    const c = new Conversation();
    assert.deepEqual(c.insert(msg('a')), { ok: true, previousItemId: null });
    assert.deepEqual(c.insert(msg('c')), { ok: true, previousItemId: 'a' });
    assert.deepEqual(c.insert(msg('b'), 'a'), { ok: true, previousItemId: 'a' });
    assert.deepEqual(c.insert(msg('r'), 'root'), { ok: true, previousItemId: null });
    assert.equal(c.insert(msg('x'), 'nope').ok, false);
    assert.equal(c.insert(msg('a')).ok, false);
    assert.deepEqual(c.items.map((i) => i.id), ['r', 'a', 'b', 'c']);
    assert.equal(c.delete('b'), true);
    assert.equal(c.delete('b'), false);
  });

  test('tracks assistant audio length and truncation', () => {
    const c = new Conversation();
    c.insert({ id: 'x', object: 'realtime.item', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_audio', transcript: 'hello there' }] });
    c.addAudio('x', 150);
    c.addAudio('x', 150);
    assert.equal(c.audioDurationMs('x'), 300);
    c.truncate('x', 120);
    assert.equal(c.audioDurationMs('x'), 120);
    const item = c.get('x');
    assert.ok(item?.type === 'message' && item.content[0]?.type === 'output_audio' && item.content[0].transcript === '', 'item?.type === \'message\' && item.content[0]?.type === \'output_audio\' && item.content[0].transcript === \'\'');
  });
});

/** Node 20's mock tick runs only timers due before the call; step 1 ms at a time so chained timers fire on time. */
function advance(ms: number): void {
  for (let i = 0; i < ms; i++) mock.timers.tick(1);
}

describe('ResponseStream', () => {
  test('releases chunkMs deltas in bursts and spreads the transcript over them', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const got: string[] = [];
      let finished = false;
      // 1 byte per ms, 100 ms chunks, 2 per burst, 50 ms apart: 1000 bytes → 10 chunks in 5 bursts.
      const s = new ResponseStream(Buffer.alloc(1000), 'one two three four five', 1, 1, { chunkMs: 100, deltasPerBurst: 2, burstIntervalMs: 50, firstDeltaDelayMs: 30 }, {
        audio: (c) => got.push(`a${c.length}`),
        transcript: (d) => got.push(`t${d.trim()}`),
        finished: () => (finished = true),
      });
      s.start();
      advance(29);
      assert.equal(got.length, 0);
      advance(1);
      assert.equal(got.filter((g) => g.startsWith('a')).length, 2);
      advance(50 * 3);
      assert.ok(!finished, '!finished');
      advance(50);
      assert.ok(finished, 'finished');
      assert.equal(got.filter((g) => g.startsWith('a')).length, 10);
      assert.deepEqual(got.filter((g) => g.startsWith('t')), ['tone', 'ttwo', 'tthree', 'tfour', 'tfive']);
      // Words follow the audio they belong to: the first after the first chunk, the last in the final burst.
      assert.ok(got.indexOf('tone') > got.indexOf('a100'), 'got.indexOf(\'tone\') > got.indexOf(\'a100\')');
      assert.ok(got.indexOf('tfive') > got.length - 4, 'got.indexOf(\'tfive\') > got.length - 4');
    } finally {
      mock.timers.reset();
    }
  });

  test('stop() ends output without finished()', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let chunks = 0;
      let finished = false;
      const s = new ResponseStream(Buffer.alloc(1000), '', 1, 1, { chunkMs: 100, deltasPerBurst: 1, burstIntervalMs: 10, firstDeltaDelayMs: 0 }, {
        audio: () => chunks++,
        transcript: () => {},
        finished: () => (finished = true),
      });
      s.start();
      advance(25);
      s.stop();
      advance(1000);
      assert.equal(chunks, 3);
      assert.ok(!finished, '!finished');
    } finally {
      mock.timers.reset();
    }
  });

  test('transcriptPieces keeps leading spaces', () => {
    assert.deepEqual(transcriptPieces('Hi there,  you'), ['Hi', ' there,', '  you']);
  });
});

describe('audio formats', () => {
  test('PCM16 and μ-law round trips', () => {
    const s = Int16Array.from([0, 1000, -1000, 32767, -32768]);
    assert.deepEqual(decodeAudio(encodeAudio(s, { type: 'audio/pcm', rate: 24000 }), { type: 'audio/pcm', rate: 24000 }), s);
    const mu = decodeAudio(encodeAudio(s, { type: 'audio/pcmu' }), { type: 'audio/pcmu' });
    for (let i = 0; i < s.length; i++) assert.ok(Math.abs(mu[i]! - s[i]!) <= Math.abs(s[i]!) / 16 + 8, 'Math.abs(mu[i]! - s[i]!) <= Math.abs(s[i]!) / 16 + 8');
  });

  test('24 → 8 kHz keeps a 1 kHz tone and removes a 6 kHz one', () => {
    const tone = (hz: number) => Int16Array.from({ length: 24000 }, (_, i) => Math.round(10000 * Math.sin((2 * Math.PI * hz * i) / 24000)));
    const rms = (x: Int16Array) => Math.sqrt(x.slice(100, -100).reduce((n, v) => n + v * v, 0) / (x.length - 200));
    const low = downsample24kTo8k(tone(1000));
    assert.equal(low.length, 8000);
    assert.ok(Math.abs(rms(low) - 10000 / Math.SQRT2) < 300, 'Math.abs(rms(low) - 10000 / Math.SQRT2) < 300');
    assert.ok(rms(downsample24kTo8k(tone(6000))) < 50, 'rms(downsample24kTo8k(tone(6000))) < 50');
  });
});

describe('PeerFaults', () => {
  function fakeSocket(index: number) {
    const applied: FaultAction[] = [];
    let open = true;
    const control: SocketControl = {
      session: { index } as PeerSession,
      get open() {
        return open;
      },
      apply: (a) => {
        applied.push(a);
        open = false;
      },
      pauseReading: () => applied.push({ kind: 'close', code: 0, reason: 'paused' }),
      resumeReading: () => {},
    };
    return { control, applied };
  }

  test('armed faults fire once, at the matching moment, session and audio position', async () => {
    const a = fakeSocket(0);
    const b = fakeSocket(1);
    const faults = new PeerFaults(() => [a.control, b.control]);
    const hit = faults.closeNext({ when: 'response', session: 1, code: 1001, reason: 'bye', afterAudioMs: 300 });
    faults.moment('response', a.control, 1000);
    faults.moment('speech', b.control, 1000);
    faults.moment('response', b.control, 200);
    assert.equal(a.applied.length + b.applied.length, 0);
    faults.moment('response', b.control, 300);
    assert.deepEqual(b.applied, [{ kind: 'close', code: 1001, reason: 'bye' }]);
    assert.equal((await hit).index, 1);
    faults.moment('response', b.control, 400);
    assert.equal(b.applied.length, 1);
  });

  test('immediate faults target the newest open session; queues are consumed in order', () => {
    const a = fakeSocket(0);
    const b = fakeSocket(1);
    const faults = new PeerFaults(() => [a.control, b.control]);
    assert.equal(faults.drop().index, 1);
    assert.equal(faults.expire().index, 0);
    assert.throws(() => faults.drop(), /no open session/);
    assert.throws(() => faults.drop(7), /no session with index 7/);
    faults.refuseUpgrades(2, 'reset');
    faults.refuseUpgrades(1, { status: 403 });
    assert.deepEqual([faults.takeUpgradeRefusal(), faults.takeUpgradeRefusal(), faults.takeUpgradeRefusal(), faults.takeUpgradeRefusal()], ['reset', 'reset', { status: 403 }, undefined]);
    faults.failTokenRequests(1, 'stall');
    assert.equal(faults.takeTokenFailure(), 'stall');
    assert.equal(faults.takeTokenFailure(), undefined);
  });
});
