// Socket-level tests of the local realtime peer: real loopback sockets, a
// tiny ws client (not the bridge), fast pacing and short VAD silence so the
// whole file runs in a few seconds.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readWav } from '../src/audio/wav.js';
import { startRealtimePeer, type RealtimePeer, type RealtimePeerOptions } from '../src/devtools/realtime-peer/index.js';
import { connectToPeer, mintToken, sendSpeech, type RealtimeTestClient } from '../src/devtools/realtime-peer/test-client.js';

const API_KEY = 'sk-test-long-lived';
const FAST: Partial<RealtimePeerOptions> = {
  pacing: { chunkMs: 200, deltasPerBurst: 25, burstIntervalMs: 2, firstDeltaDelayMs: 0 },
  vad: { minSpeechMs: 30 },
};
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const question8k = readWav(fixture('caller-question.wav')).samples;
const interrupt8k = readWav(fixture('caller-interrupt.wav')).samples;

type Client = RealtimeTestClient;
const clients: Client[] = [];

function connect(peer: RealtimePeer, auth: string | null, headers: Record<string, string> = {}): Client {
  const c = connectToPeer(peer, auth, { headers });
  clients.push(c);
  return c;
}

function mint(peer: RealtimePeer, body?: unknown, key: string | null = API_KEY) {
  return mintToken(peer, key, body);
}

/** Opens a configured session on a fresh ek_, waits for session.updated. */
async function openSession(peer: RealtimePeer, format: 'pcmu' | 'pcm', turnDetection: Record<string, unknown> | null = { type: 'server_vad', silence_duration_ms: 200, prefix_padding_ms: 100 }): Promise<Client> {
  const { json } = await mint(peer);
  const c = connect(peer, json['value'] as string);
  await c.next('session.created');
  const fmt = format === 'pcmu' ? { type: 'audio/pcmu' } : { type: 'audio/pcm', rate: 24000 };
  c.send({
    type: 'session.update',
    session: { type: 'realtime', audio: { input: { format: fmt, turn_detection: turnDetection, transcription: { model: 'gpt-4o-transcribe' } }, output: { format: fmt, voice: 'marin' } } },
  });
  await c.next('session.updated');
  return c;
}

const speak = sendSpeech;

let peer: RealtimePeer;

before(async () => {
  peer = await startRealtimePeer({ apiKey: API_KEY, ...FAST, replyTranscript: 'Hello from the peer.' });
});

after(async () => {
  for (const c of clients) c.terminate();
  await peer.close();
});

describe('token endpoint', () => {
  test('mints an ek_ with the GA response shape and records the request', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { status, json } = await mint(peer, { expires_after: { anchor: 'created_at', seconds: 120 }, session: { type: 'realtime', instructions: 'Be brief.' } });
    assert.equal(status, 200);
    assert.match(json['value'] as string, /^ek_/);
    const expiresAt = json['expires_at'] as number;
    assert.ok(expiresAt >= before + 120 && expiresAt <= before + 122, 'expiresAt >= before + 120 && expiresAt <= before + 122');
    const session = json['session'] as Record<string, unknown>;
    assert.equal(session['type'], 'realtime');
    assert.equal(session['instructions'], 'Be brief.');
    const rec = peer.tokenRequests.at(-1)!;
    assert.equal(rec.credential.kind, 'apiKey');
    assert.equal(rec.status, 200);
    assert.equal(rec.token, json['value']);
    assert.deepEqual((rec.body as Record<string, unknown>)['expires_after'], { anchor: 'created_at', seconds: 120 });
  });

  test('rejects missing auth, a wrong key and an ek_ with 401 in the OpenAI error shape', async () => {
    const missing = await mint(peer, {}, null);
    assert.equal(missing.status, 401);
    const wrong = await mint(peer, {}, 'sk-wrong');
    assert.equal(wrong.status, 401);
    const err = wrong.json['error'] as Record<string, unknown>;
    assert.equal(err['type'], 'invalid_request_error');
    assert.equal(err['code'], 'invalid_api_key');
    assert.equal(typeof err['message'], 'string');
    const ek = (await mint(peer)).json['value'] as string;
    assert.equal((await mint(peer, {}, ek)).status, 401);
  });

  test('validates expires_after and the session', async () => {
    assert.equal((await mint(peer, { expires_after: { anchor: 'created_at', seconds: 5 } })).status, 400);
    assert.equal((await mint(peer, { expires_after: { anchor: 'created_at', seconds: 7201 } })).status, 400);
    assert.equal((await mint(peer, { expires_after: { anchor: 'now', seconds: 60 } })).status, 400);
    assert.equal((await mint(peer, { session: { instructions: 'no type' } })).status, 400);
    assert.equal((await mint(peer, { session: { type: 'realtime', modalities: ['audio'] } })).status, 400);
    assert.equal((await mint(peer, {})).status, 200);
  });
});

describe('socket auth', () => {
  test('an ek_ opens a session configured by the token; the record says ephemeral', async () => {
    const { json } = await mint(peer, { session: { type: 'realtime', audio: { output: { format: { type: 'audio/pcmu' } } } } });
    const c = connect(peer, json['value'] as string);
    const created = await c.next('session.created');
    const s = created['session'] as { audio: { output: { format: { type: string } } }; model: string };
    assert.equal(s.audio.output.format.type, 'audio/pcmu');
    assert.equal(s.model, 'gpt-realtime');
    const rec = peer.sessions.at(-1)!;
    assert.equal(rec.credential.kind, 'ephemeral');
    assert.equal(rec.credential.token, json['value']);
    assert.equal(rec.headers['authorization'], 'Bearer <ephemeral>');
    assert.equal(rec.model, 'gpt-realtime');
    c.terminate();
  });

  test('missing auth is HTTP 401 on the upgrade', async () => {
    const c = connect(peer, null);
    await assert.rejects(c.opened, (e: Error & { status?: number }) => e.status === 401);
    assert.deepEqual(peer.upgrades.at(-1)!.outcome, { kind: 'http', status: 401 });
  });

  test('an unknown key is 101 then close 3000 invalid_api_key', async () => {
    const c = connect(peer, 'sk-nope');
    await c.opened;
    assert.deepEqual(await c.closed, { code: 3000, reason: 'invalid_api_key' });
    assert.equal(peer.sessions.at(-1)!.credential.kind, 'unknown');
  });

  test('an OpenAI-Beta header is 101 then close 4000 beta_api_shape_disabled', async () => {
    const c = connect(peer, API_KEY, { 'OpenAI-Beta': 'realtime=v1' });
    await c.opened;
    assert.deepEqual(await c.closed, { code: 4000, reason: 'beta_api_shape_disabled' });
  });

  test('the long-lived key is accepted on the socket but recorded as such', async () => {
    const c = connect(peer, API_KEY);
    await c.next('session.created');
    assert.equal(peer.sessions.at(-1)!.credential.kind, 'apiKey');
    c.terminate();
  });

  test('an expired ek_ is rejected', async () => {
    let offset = 0;
    const p = await startRealtimePeer({ apiKey: API_KEY, now: () => Date.now() + offset });
    try {
      const { json } = await mint(p, { expires_after: { anchor: 'created_at', seconds: 10 } });
      offset = 11_000;
      const c = connect(p, json['value'] as string);
      await c.opened;
      assert.equal((await c.closed).code, 3000);
      assert.equal(p.sessions[0]!.credential.kind, 'expired');
    } finally {
      await p.close();
    }
  });
});

describe('session protocol', () => {
  test('session.update validates the GA shape; bad events get error events and the session stays open', async () => {
    const c = connect(peer, API_KEY);
    await c.next('session.created');
    c.send({ type: 'session.update', session: { type: 'transcription' } });
    assert.equal((await c.nextError())['param'], 'session.type');
    c.send({ type: 'session.update', session: { type: 'realtime', input_audio_format: 'pcm16' } });
    assert.equal((await c.nextError())['code'], 'unknown_parameter');
    c.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } } });
    assert.equal((await c.nextError())['param'], 'session.audio.input.format.rate');
    c.send({ type: 'no.such.event' });
    assert.equal((await c.nextError())['code'], 'invalid_event');
    c.ws.send('{not json');
    assert.equal((await c.nextError())['code'], 'invalid_json');
    c.send({ type: 'input_audio_buffer.append', audio: 42 });
    assert.equal((await c.nextError())['code'], 'invalid_type');
    c.send({ type: 'conversation.item.truncate', item_id: 'x', content_index: -1, audio_end_ms: 0, event_id: 'evt_1' });
    const e = (await c.next('error'))['error'] as Record<string, unknown>;
    assert.equal(e['param'], 'content_index');
    assert.equal(e['event_id'], 'evt_1');
    c.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' } } } } });
    const updated = await c.next('session.updated');
    assert.equal((updated['session'] as { audio: { input: { format: { type: string } } } }).audio.input.format.type, 'audio/pcmu');
    assert.equal(peer.sessions.at(-1)!.closed, null);
    assert.deepEqual(peer.sessions.at(-1)!.config!.audio.input.format, { type: 'audio/pcmu' });
    c.terminate();
  });

  test('a spoken turn (pcmu): VAD events, committed user item, transcript, audio response', async () => {
    peer.queueTranscript('What are your opening hours?');
    const c = await openSession(peer, 'pcmu');
    speak(c, question8k, 'pcmu');
    const started = await c.next('input_audio_buffer.speech_started');
    const stopped = await c.next('input_audio_buffer.speech_stopped');
    assert.equal(started['item_id'], stopped['item_id']);
    // Speech begins ~0.41 s into the fixture; prefix padding is 100 ms.
    assert.ok(Math.abs((started['audio_start_ms'] as number) - 310) <= 40, `audio_start_ms ${started['audio_start_ms']}`);
    assert.ok((stopped['audio_end_ms'] as number) > 4000, '(stopped[\'audio_end_ms\'] as number) > 4000');
    const committed = await c.next('input_audio_buffer.committed');
    assert.equal(committed['item_id'], started['item_id']);
    const transcript = await c.next('conversation.item.input_audio_transcription.completed');
    assert.equal(transcript['transcript'], 'What are your opening hours?');
    const created = await c.next('response.created');
    const done = await c.next('response.done');
    const response = done['response'] as { id: string; status: string; output: { id: string; role: string }[]; usage: unknown };
    assert.equal(response.status, 'completed');
    assert.equal(response.id, (created['response'] as { id: string }).id);
    assert.equal(response.output[0]!.role, 'assistant');
    assert.ok(response.usage !== null, 'response.usage !== null');
    const deltas = c.ofType('response.output_audio.delta');
    assert.ok(deltas.length > 10, 'deltas.length > 10');
    for (const d of deltas) assert.equal(d['item_id'], response.output[0]!.id);
    const bytes = deltas.reduce((n, d) => n + Buffer.from(d['delta'] as string, 'base64').length, 0);
    // μ-law at 8 kHz: one byte per sample; the fixture is ~9.84 s.
    assert.ok(Math.abs(bytes / 8000 - 9.84) < 0.05, `reply ${bytes / 8000} s`);
    assert.equal((await c.next('response.output_audio_transcript.done'))['transcript'], 'Hello from the peer.');
    const rec = peer.sessions.at(-1)!;
    assert.deepEqual(rec.conversation.map((i) => (i.type === 'message' ? i.role : i.type)), ['user', 'assistant']);
    assert.ok(rec.received.some((r) => r.type === 'input_audio_buffer.append' && r.audioBytes === 160), 'rec.received.some((r) => r.type === \'input_audio_buffer.append\' && r.audioBytes === 160)');
    c.terminate();
  });

  test('pcm 24 kHz: reply is PCM16 at 24 kHz, and barge-in cancels the response (turn_detected)', async () => {
    const c = await openSession(peer, 'pcm');
    peer.queueReply({ type: 'audio', transcript: 'A long answer.' });
    speak(c, question8k, 'pcm');
    const first = await c.next('response.output_audio.delta');
    assert.equal(Buffer.from(first['delta'] as string, 'base64').length, 24000 * 2 * 0.2);
    await c.next('response.done');
    assert.equal((await c.next('response.output_audio_transcript.done'))['transcript'], 'A long answer.');
    // Barge-in needs a reply slower than the caller: a second peer paced near real time.
    const slow = await startRealtimePeer({ apiKey: API_KEY, vad: { minSpeechMs: 30 }, pacing: { chunkMs: 100, deltasPerBurst: 1, burstIntervalMs: 50, firstDeltaDelayMs: 0 } });
    try {
      const s = await openSession(slow, 'pcm');
      speak(s, question8k, 'pcm');
      await s.next('response.output_audio.delta');
      speak(s, interrupt8k.subarray(0, 8000), 'pcm', 0);
      const done = await s.next('response.done');
      const r = done['response'] as { status: string; status_details: { reason: string } };
      assert.equal(r.status, 'cancelled');
      assert.equal(r.status_details.reason, 'turn_detected');
      s.terminate();
    } finally {
      await slow.close();
    }
    c.terminate();
  });

  test('response.cancel cancels the active response, else errors response_cancel_not_active', async () => {
    const slow = await startRealtimePeer({ apiKey: API_KEY, pacing: { chunkMs: 100, deltasPerBurst: 1, burstIntervalMs: 50, firstDeltaDelayMs: 0 } });
    try {
      const c = await openSession(slow, 'pcmu');
      c.send({ type: 'response.cancel' });
      assert.equal((await c.nextError())['code'], 'response_cancel_not_active');
      c.send({ type: 'response.create' });
      await c.next('response.output_audio.delta');
      c.send({ type: 'response.create' });
      assert.equal((await c.nextError())['code'], 'conversation_already_has_active_response');
      c.send({ type: 'response.cancel' });
      const done = await c.next('response.done');
      const r = done['response'] as { status: string; status_details: { reason: string } };
      assert.equal(r.status, 'cancelled');
      assert.equal(r.status_details.reason, 'client_cancelled');
      c.send({ type: 'response.cancel' });
      assert.equal((await c.nextError())['code'], 'response_cancel_not_active');
      c.terminate();
    } finally {
      await slow.close();
    }
  });

  test('truncate: only assistant audio items, and not beyond the audio sent', async () => {
    const c = await openSession(peer, 'pcm', null);
    c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hi' }] } });
    const userItem = (await c.next('conversation.item.done'))['item'] as { id: string };
    c.send({ type: 'response.create' });
    const done = await c.next('response.done');
    const item = (done['response'] as { output: { id: string }[] }).output[0]!;
    c.send({ type: 'conversation.item.truncate', item_id: item.id, content_index: 0, audio_end_ms: 1500 });
    assert.deepEqual(
      { ...(await c.next('conversation.item.truncated')), event_id: null },
      { event_id: null, type: 'conversation.item.truncated', item_id: item.id, content_index: 0, audio_end_ms: 1500 },
    );
    c.send({ type: 'conversation.item.truncate', item_id: item.id, content_index: 0, audio_end_ms: 1600 });
    assert.equal((await c.nextError())['param'], 'audio_end_ms');
    c.send({ type: 'conversation.item.truncate', item_id: userItem.id, content_index: 0, audio_end_ms: 0 });
    assert.equal((await c.nextError())['param'], 'item_id');
    c.send({ type: 'conversation.item.truncate', item_id: 'item_missing', content_index: 0, audio_end_ms: 0 });
    assert.equal((await c.nextError())['code'], 'item_not_found');
    c.terminate();
  });

  test('conversation.item.create honours previous_item_id; a scripted tool call round-trips', async () => {
    const c = await openSession(peer, 'pcmu', null);
    c.send({ type: 'conversation.item.create', item: { id: 'item_a', type: 'message', role: 'system', content: [{ type: 'input_text', text: 'A' }] } });
    c.send({ type: 'conversation.item.create', item: { id: 'item_c', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'C' }] } });
    c.send({ type: 'conversation.item.create', previous_item_id: 'item_a', item: { id: 'item_b', type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'B' }] } });
    c.send({ type: 'conversation.item.create', previous_item_id: 'item_zzz', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'x' }] } });
    assert.equal((await c.nextError())['code'], 'item_not_found');
    c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_audio', audio: 'AAAA' }] } });
    assert.equal((await c.nextError())['param'], 'item.content[0].type');
    const rec = peer.sessions.at(-1)!;
    assert.deepEqual(rec.conversation.map((i) => i.id), ['item_a', 'item_b', 'item_c']);

    peer.queueReply({ type: 'function_call', name: 'end_call', arguments: { reason: 'done' }, callId: 'call_1' });
    c.send({ type: 'response.create' });
    const args = await c.next('response.function_call_arguments.done');
    assert.deepEqual({ call_id: args['call_id'], name: args['name'], arguments: args['arguments'] }, { call_id: 'call_1', name: 'end_call', arguments: '{"reason":"done"}' });
    const first = await c.next('response.done');
    assert.equal((first['response'] as { output: { type: string }[] }).output[0]!.type, 'function_call');
    c.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_1', output: '{"ok":true}' } });
    c.send({ type: 'response.create' });
    const second = await c.next('response.done', (e) => (e['response'] as { output: { type: string }[] }).output[0]!.type === 'message');
    assert.equal((second['response'] as { status: string }).status, 'completed');
    assert.deepEqual(rec.conversation.map((i) => i.type), ['message', 'message', 'message', 'function_call', 'function_call_output', 'message']);
    c.terminate();
  });
});

describe('more protocol', () => {
  test('turn_detection null: no VAD events; manual commit needs 100 ms; clear empties the buffer', async () => {
    const c = await openSession(peer, 'pcmu', null);
    c.send({ type: 'input_audio_buffer.commit' });
    assert.equal((await c.nextError()).code, 'input_audio_buffer_commit_empty');
    speak(c, question8k, 'pcmu');
    c.send({ type: 'input_audio_buffer.clear' });
    await c.next('input_audio_buffer.cleared');
    c.send({ type: 'input_audio_buffer.commit' });
    assert.equal((await c.nextError()).code, 'input_audio_buffer_commit_empty');
    speak(c, question8k.subarray(0, 1600), 'pcmu', 0);
    c.send({ type: 'input_audio_buffer.commit' });
    const committed = await c.next('input_audio_buffer.committed');
    await c.next('conversation.item.done', (e) => (e['item'] as { id: string }).id === committed['item_id']);
    assert.equal(c.ofType('input_audio_buffer.speech_started').length, 0);
    assert.equal(c.ofType('response.created').length, 0);
    c.send({ type: 'conversation.item.retrieve', item_id: committed['item_id'] });
    assert.equal(((await c.next('conversation.item.retrieved'))['item'] as { role: string }).role, 'user');
    c.send({ type: 'conversation.item.delete', item_id: committed['item_id'] });
    assert.equal((await c.next('conversation.item.deleted'))['item_id'], committed['item_id']);
    assert.equal(peer.sessions.at(-1)!.conversation.length, 0);
    c.terminate();
  });

  test('create_response false: the turn is committed but nothing answers', async () => {
    const c = await openSession(peer, 'pcmu', { type: 'server_vad', silence_duration_ms: 200, create_response: false });
    speak(c, question8k, 'pcmu');
    await c.next('conversation.item.input_audio_transcription.completed');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.ofType('response.created').length, 0);
    c.terminate();
  });

  test('interrupt_response false: speech during a response does not cancel it', async () => {
    const slow = await startRealtimePeer({ apiKey: API_KEY, vad: { minSpeechMs: 30 }, pacing: { chunkMs: 100, deltasPerBurst: 3, burstIntervalMs: 20, firstDeltaDelayMs: 0 } });
    try {
      const c = await openSession(slow, 'pcmu', { type: 'server_vad', silence_duration_ms: 200, interrupt_response: false });
      c.send({ type: 'response.create' });
      await c.next('response.output_audio.delta');
      speak(c, interrupt8k.subarray(0, 8000), 'pcmu', 0);
      await c.next('input_audio_buffer.speech_started');
      assert.equal(((await c.next('response.done'))['response'] as { status: string }).status, 'completed');
      c.terminate();
    } finally {
      await slow.close();
    }
  });

  test('text responses stream output_text; out-of-band responses stay out of the conversation', async () => {
    const c = await openSession(peer, 'pcm', null);
    c.send({ type: 'response.create', response: { output_modalities: ['text'], conversation: 'none', metadata: { purpose: 'summary' } } });
    const done = await c.next('response.done');
    const r = done['response'] as { output_modalities: string[]; metadata: unknown; conversation_id: unknown };
    assert.deepEqual(r.output_modalities, ['text']);
    assert.deepEqual(r.metadata, { purpose: 'summary' });
    assert.equal(r.conversation_id, null);
    assert.equal((await c.next('response.output_text.done'))['text'], 'Hello from the peer.');
    assert.equal(c.ofType('response.output_audio.delta').length, 0);
    assert.equal(peer.sessions.at(-1)!.conversation.length, 0);
    c.terminate();
  });

  test('binary frames are errors, not crashes; the voice is locked after audio', async () => {
    const c = await openSession(peer, 'pcmu', null);
    c.ws.send(Buffer.from([1, 2, 3]));
    assert.equal((await c.nextError()).code, 'invalid_event');
    c.send({ type: 'response.create' });
    await c.next('response.done');
    c.send({ type: 'session.update', session: { type: 'realtime', audio: { output: { voice: 'ash' } } } });
    assert.equal((await c.nextError()).code, 'cannot_update_voice');
    c.terminate();
  });

  test('an exception inside the peer becomes a server_error event, not a crash', async () => {
    const c = await openSession(peer, 'pcmu', null);
    const boom = (): void => {
      throw new Error('listener bug');
    };
    peer.on('clientEvent', boom);
    try {
      c.send({ type: 'input_audio_buffer.clear' });
      const e = await c.nextError();
      assert.equal(e.type, 'server_error');
      assert.match(e.message, /listener bug/);
    } finally {
      peer.off('clientEvent', boom);
    }
    c.send({ type: 'input_audio_buffer.clear' });
    await c.next('input_audio_buffer.cleared');
    c.terminate();
  });

  test('records the upgrade URL verbatim; recordAudio/recordEvents off keep records small', async () => {
    const lean = await startRealtimePeer({ apiKey: API_KEY, recordAudio: false, ...FAST });
    const none = await startRealtimePeer({ apiKey: API_KEY, recordEvents: false, ...FAST });
    try {
      const c = connectToPeer(lean, API_KEY, { model: 'gpt-realtime-mini' });
      clients.push(c);
      await c.next('session.created');
      c.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(160).toString('base64') });
      c.send({ type: 'response.create' });
      await c.next('response.done');
      const s = lean.sessions[0]!;
      assert.equal(s.url, '/v1/realtime?model=gpt-realtime-mini');
      assert.equal(s.model, 'gpt-realtime-mini');
      assert.equal(s.config!.model, 'gpt-realtime-mini');
      const append = s.received.find((r) => r.type === 'input_audio_buffer.append')!;
      assert.equal(append.audioBytes, 160);
      assert.equal(s.receivedOfType('input_audio_buffer.append')[0]!.audio, '');
      const delta = s.sent.find((e) => e.type === 'response.output_audio.delta')!;
      assert.equal(delta.event['delta'], '');
      assert.ok(delta.audioBytes! > 0, 'delta.audioBytes! > 0');

      const d = connectToPeer(none, API_KEY);
      clients.push(d);
      const seen: string[] = [];
      none.on('serverEvent', (_s, e) => seen.push(e.type));
      await d.next('session.created');
      d.send({ type: 'response.create' });
      await d.next('response.done');
      assert.equal(none.sessions[0]!.sent.length, 0);
      assert.ok(seen.includes('response.done'), 'seen.includes(\'response.done\')');
    } finally {
      await lean.close();
      await none.close();
    }
  });

  test('idle_timeout_ms: silence after the reply is heard commits an empty turn and prompts a response', async () => {
    const c = await openSession(peer, 'pcmu', { type: 'server_vad', silence_duration_ms: 200, idle_timeout_ms: 5000 });
    peer.queueReply({ type: 'audio', samples24k: new Int16Array(12000), transcript: 'Short.' });
    c.send({ type: 'response.create' });
    await c.next('response.done');
    // 0.5 s of reply + 5 s of idle: 5.4 s of silence is not enough, 5.6 s is.
    const second = Buffer.alloc(8000, 0xff).toString('base64');
    for (let i = 0; i < 5; i++) c.send({ type: 'input_audio_buffer.append', audio: second });
    c.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(3200, 0xff).toString('base64') });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.ofType('input_audio_buffer.timeout_triggered').length, 0);
    c.send({ type: 'input_audio_buffer.append', audio: Buffer.alloc(1600, 0xff).toString('base64') });
    const t = await c.next('input_audio_buffer.timeout_triggered');
    assert.deepEqual([t['audio_start_ms'], t['audio_end_ms']], [500, 5600]);
    assert.equal((await c.next('input_audio_buffer.committed'))['item_id'], t['item_id']);
    await c.next('response.created');
    assert.equal(c.ofType('conversation.item.input_audio_transcription.completed').length, 0);
    c.terminate();
  });
});
