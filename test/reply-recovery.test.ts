// The answer clock's edge cases, through real sockets, against a scripted AI
// server that sends exactly the events each case needs: late events of a
// cancelled response, barge-ins on a tool call, a response created and never
// spoken, a caller repeating themselves, and session_expired while a reply is
// owed. Audio is μ-law passthrough (pcmu) and each caller turn is one byte
// value, so the test can tell which utterance a new session was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type WebSocket from 'ws';
import { callSid as newCallSid, eventually, mediaMessage, openStream, postWebhook, startBridge, startMessage, webhookFields } from './support/bridge-harness.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

const SILENCE = 0xff;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface AiSession {
  readonly ws: WebSocket;
  readonly received: { type: string; [k: string]: unknown }[];
  closed: boolean;
}

/** One call on a bridge (reply timeout 1 s) whose AI server is scripted by the test; Twilio sends 20 ms frames of `byte`. */
async function scriptedCall(env: Record<string, string> = {}, delayLaterSessionsMs = 0) {
  const sessions: AiSession[] = [];
  const upstream = await startScriptedUpstream((ws) => {
    const s: AiSession = { ws, received: [], closed: false };
    ws.on('close', () => (s.closed = true));
    ws.on('message', (data) => {
      const event = JSON.parse(String(data)) as { type: string };
      s.received.push(event);
      if (event.type !== 'session.update') return;
      const later = sessions.length > 0;
      setTimeout(
        () => {
          ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
          sessions.push(s);
        },
        later ? delayLaterSessionsMs : 0,
      );
    });
  });
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl, AI_REPLY_TIMEOUT_MS: '1000', AUDIO_MODE: 'pcmu', ...env });
  const sid = newCallSid();
  const opened = await openStream(bridge.url, (await postWebhook(bridge.url, webhookFields(sid))).streamUrl!);
  assert.ok('ws' in opened, 'upgrade accepted');
  const twilio = opened.ws;
  let twilioClosed = false;
  twilio.on('close', () => (twilioClosed = true));
  twilio.send(startMessage(sid));
  await eventually(() => sessions.length === 1, 3000, 'the first AI session');
  let seq = 0;
  let byte = SILENCE;
  const pump = setInterval(() => {
    if (!twilioClosed) twilio.send(mediaMessage(seq++, Buffer.alloc(160, byte).toString('base64')));
  }, 20);
  const ai = (s: AiSession, event: Record<string, unknown>) => s.ws.send(JSON.stringify(event));
  return {
    sessions,
    ai,
    twilioClosed: () => twilioClosed,
    /** The caller's audio from now on is `value` (no AI events: for an outage, when no session hears it). */
    say(value: number) {
      byte = value;
    },
    /** The caller says one utterance of `byte` for `ms`; the server's VAD reports it and commits it. */
    async turn(s: AiSession, value: number, itemId: string, ms = 400) {
      byte = value;
      ai(s, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: itemId });
      await sleep(ms);
      byte = SILENCE;
      ai(s, { type: 'input_audio_buffer.speech_stopped', audio_end_ms: ms, item_id: itemId });
      ai(s, { type: 'input_audio_buffer.committed', item_id: itemId });
    },
    async close() {
      clearInterval(pump);
      twilio.close();
      await bridge.close();
      await upstream.close();
    },
  };
}

type ScriptedCall = Awaited<ReturnType<typeof scriptedCall>>;

/** Runs `body` on a scripted call (its first AI session as `s`) and always tears the call down. */
async function withScriptedCall(
  opts: { env?: Record<string, string>; delayLaterSessionsMs?: number },
  body: (call: ScriptedCall, s: AiSession) => Promise<void>,
): Promise<void> {
  const call = await scriptedCall(opts.env, opts.delayLaterSessionsMs);
  try {
    await body(call, call.sessions[0]!);
  } finally {
    await call.close();
  }
}

/** The first byte of each append a session received: which utterance (or silence) it carried. */
function appendedValues(s: AiSession): number[] {
  return s.received.filter((e) => e.type === 'input_audio_buffer.append').map((e) => Buffer.from(String(e.audio), 'base64')[0]!);
}

const created = (id: string) => ({ type: 'response.created', response: { id, status: 'in_progress' } });
const done = (id: string, status: string) => ({ type: 'response.done', response: { id, status, output: [] } });
const audio = (responseId: string) => ({ type: 'response.output_audio.delta', response_id: responseId, item_id: 'a1', output_index: 0, content_index: 0, delta: Buffer.alloc(1600, 0x55).toString('base64') });
const audioDone = (responseId: string) => ({ type: 'response.output_audio.done', response_id: responseId, item_id: 'a1', output_index: 0, content_index: 0 });
const words = (responseId: string, text: string) => ({ type: 'response.output_audio_transcript.delta', response_id: responseId, item_id: 'a1', output_index: 0, content_index: 0, delta: text });
const toolCall = (responseId: string) => ({ type: 'response.function_call_arguments.done', response_id: responseId, item_id: 'item_f', output_index: 0, call_id: 'call_1', name: 'lookup_hours', arguments: '{}' });
const expired = { type: 'error', error: { type: 'invalid_request_error', code: 'session_expired', message: 'Your session hit the maximum duration of 60 minutes.' } };

/** Session `s` answers in full: created, its audio, the audio's end, done. */
function answer(call: ScriptedCall, s: AiSession, responseId: string): void {
  call.ai(s, created(responseId));
  call.ai(s, audio(responseId));
  call.ai(s, audioDone(responseId));
  call.ai(s, done(responseId, 'completed'));
}

/**
 * The caller asks (0x11) and hears the start of reply r1 ("We open at"); then `meanwhile`, if given, and the AI
 * socket drops. Returns the session that replaced it.
 */
async function dropDuringReply(call: ScriptedCall, s: AiSession, meanwhile?: () => void | Promise<void>): Promise<AiSession> {
  const before = call.sessions.length;
  await call.turn(s, 0x11, 'u1');
  call.ai(s, created('r1'));
  call.ai(s, words('r1', 'We open at'));
  call.ai(s, audio('r1'));
  await meanwhile?.();
  await sleep(50);
  s.ws.close(1011, 'internal error');
  await eventually(() => call.sessions.length > before, 4000, 'the reconnect');
  return call.sessions[before]!;
}

test('late events of a response the caller talked over are no sign of a reply: a caller still talking is not cut off', async () => {
  await withScriptedCall({}, async (call, s) => {
    call.ai(s, created('r1'));
    await sleep(50);
    call.ai(s, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'u1' });
    call.ai(s, words('r1', 'Sure'));
    call.ai(s, toolCall('r1'));
    call.ai(s, done('r1', 'cancelled'));
    // The caller goes on talking for well over the timeout: nothing is owed until they stop.
    await sleep(2500);
    assert.equal(call.sessions.length, 1, 'the session was not replaced');
    assert.equal(s.closed, false);
    assert.equal(s.received.filter((e) => e.type === 'response.create').length, 0, 'no response asked for over the caller');
  });
});

test('a response that is created and never speaks leaves the question owed: the new session hears it again', async () => {
  await withScriptedCall({}, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    call.ai(s, created('r1'));
    await eventually(() => call.sessions.length === 2, 4000, 'a replacement session');
    const fresh = call.sessions[1]!;
    await eventually(() => appendedValues(fresh).includes(0x11), 2000, 'the question resent');
    assert.equal(s.closed, true, 'the silent session was closed');
    assert.equal(fresh.received.filter((e) => e.type === 'response.create').length, 0, 'no transcript: the audio goes, not a bare request');
  });
});

test('a reply that goes silent after the caller heard part of it: the new session is asked to finish it', async () => {
  await withScriptedCall({}, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    call.ai(s, created('r1'));
    call.ai(s, audio('r1'));
    // Then nothing, and no response.done.
    await eventually(() => call.sessions.length === 2, 4000, 'a replacement session');
    const fresh = call.sessions[1]!;
    await eventually(() => fresh.received.some((e) => e.type === 'response.create'), 2000, 'the rest of the answer asked for');
    assert.equal(appendedValues(fresh).includes(0x11), false, 'the question was answered in part: not resent');
  });
});

test('a reply whose audio all came and whose response never ends: the new session is not asked to say it again', async () => {
  await withScriptedCall({}, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    call.ai(s, created('r1'));
    call.ai(s, audio('r1'));
    call.ai(s, audioDone('r1'));
    // No response.done: the service is stuck, so the session goes, but the caller heard the whole reply.
    await eventually(() => call.sessions.length === 2, 4000, 'a replacement session');
    await sleep(300);
    assert.equal(call.sessions[1]!.received.filter((e) => e.type === 'response.create').length, 0);
  });
});

test('a drop while the caller hears a reply whose audio is still coming: the new session is asked to finish it, once', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '0' } }, async (call, s) => {
    const fresh = await dropDuringReply(call, s);
    await eventually(() => fresh.received.some((e) => e.type === 'response.create'), 2000, 'the rest of the reply asked for');
    const replayed = fresh.received.filter((e) => e.type === 'conversation.item.create').map((e) => JSON.stringify(e));
    assert.ok(replayed.some((e) => e.includes('We open at')), 'the new session sees what the caller heard of it');
    const types = fresh.received.map((e) => e.type);
    assert.ok(types.indexOf('response.create') > types.lastIndexOf('conversation.item.create'), 'asked after the replay');
    await sleep(300);
    assert.equal(fresh.received.filter((e) => e.type === 'response.create').length, 1);
    assert.equal(appendedValues(fresh).includes(0x11), false, 'the question was answered in part: not resent');
  });
});

test('the session asked to finish a cut reply drops before answering: the next session is asked again', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '0' } }, async (call, s) => {
    const second = await dropDuringReply(call, s);
    await eventually(() => second.received.some((e) => e.type === 'response.create'), 2000, 'the rest asked for');
    second.ws.close(1011, 'internal error');
    await eventually(() => call.sessions.length === 3, 4000, 'the second reconnect');
    await eventually(() => call.sessions[2]!.received.some((e) => e.type === 'response.create'), 2000, 'asked again');
    // Its answer reaches the caller: nothing is asked of a later session.
    const third = call.sessions[2]!;
    call.ai(third, created('r3'));
    call.ai(third, audio('r3'));
    call.ai(third, done('r3', 'completed'));
    await sleep(100);
    third.ws.close(1011, 'internal error');
    await eventually(() => call.sessions.length === 4, 4000, 'the third reconnect');
    await sleep(300);
    assert.equal(call.sessions[3]!.received.filter((e) => e.type === 'response.create').length, 0);
  });
});

test('the session asked to finish a cut reply stays silent: its replacement is asked again, and a second miss goes to the fallback', async () => {
  await withScriptedCall({}, async (call, s) => {
    await dropDuringReply(call, s);
    await eventually(() => call.sessions.length === 3, 5000, 'the silent second session replaced');
    await eventually(() => call.sessions[2]!.received.some((e) => e.type === 'response.create'), 2000, 'asked again');
    await eventually(() => call.twilioClosed(), 5000, 'the call handed to the fallback');
    assert.equal(call.sessions.length, 3);
  });
});

test('a drop after all of a reply\'s audio came, before its response ended: nothing is asked again', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '0' } }, async (call, s) => {
    const fresh = await dropDuringReply(call, s, () => call.ai(s, audioDone('r1')));
    await sleep(300);
    assert.equal(fresh.received.filter((e) => e.type === 'response.create').length, 0);
  });
});

test('a drop while the caller talks over a reply: their turn, not the rest of the reply, goes to the new session', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '0' } }, async (call, s) => {
    const fresh = await dropDuringReply(call, s, async () => {
      await sleep(50);
      call.ai(s, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'u2' });
    });
    await sleep(300);
    assert.equal(fresh.received.filter((e) => e.type === 'response.create').length, 0);
  });
});

test('a caller who asks, then says "hello?" into a stuck session: the new session hears both, in order', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '2000' } }, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    await sleep(800);
    await call.turn(s, 0x22, 'u2');
    await eventually(() => call.sessions.length === 2, 5000, 'a replacement session');
    const fresh = call.sessions[1]!;
    await eventually(() => appendedValues(fresh).includes(0x22), 2000, 'the utterances resent');
    const values = appendedValues(fresh);
    const question = values.indexOf(0x11);
    assert.ok(question >= 0, 'the question was resent, not only "hello?"');
    assert.ok(question < values.indexOf(0x22), 'oldest first');
  });
});

/** The caller's words a session was given as text in its replay. */
function replayedUserText(s: AiSession): string[] {
  const items = s.received.filter((e) => e.type === 'conversation.item.create').map((e) => e.item as { role?: string; content?: { text?: string }[] });
  return items.filter((item) => item.role === 'user').map((item) => item.content?.[0]?.text ?? '');
}

const transcribed = (itemId: string, transcript: string) => ({ type: 'conversation.item.input_audio_transcription.completed', item_id: itemId, content_index: 0, transcript });

/**
 * The caller asks (0x11, item u1), then says "hello?" (0x22, u2) into a session that never answers, with the
 * given transcripts; resolves with the replacement session once "hello?" has been resent to it.
 */
async function questionThenHello(call: ScriptedCall, s: AiSession, transcripts: { u1?: string; u2?: string }): Promise<AiSession> {
  await call.turn(s, 0x11, 'u1');
  if (transcripts.u1 !== undefined) call.ai(s, transcribed('u1', transcripts.u1));
  await sleep(800);
  await call.turn(s, 0x22, 'u2');
  if (transcripts.u2 !== undefined) call.ai(s, transcribed('u2', transcripts.u2));
  await eventually(() => call.sessions.length === 2, 5000, 'a replacement session');
  const fresh = call.sessions[1]!;
  await eventually(() => appendedValues(fresh).includes(0x22), 2000, '"hello?" resent');
  return fresh;
}

test('a transcribed question, then an untranscribed "hello?", into a stuck session: the question goes as text, "hello?" as audio, neither twice', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '2000' } }, async (call, s) => {
    const fresh = await questionThenHello(call, s, { u1: 'When do you open?' });
    assert.deepEqual(replayedUserText(fresh), ['When do you open?'], 'the question, once, as text');
    assert.ok(!appendedValues(fresh).includes(0x11), 'the question is not heard again as audio');
    assert.equal(fresh.received.filter((e) => e.type === 'response.create').length, 0, 'the resent audio takes the turn');
  });
});

test('an untranscribed question, then a transcribed "hello?": both go as audio, in order, and "hello?" is not in the text', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '2000' } }, async (call, s) => {
    const fresh = await questionThenHello(call, s, { u2: 'Hello?' });
    const values = appendedValues(fresh);
    assert.ok(values.indexOf(0x11) >= 0 && values.indexOf(0x11) < values.indexOf(0x22), 'both, oldest first');
    assert.deepEqual(replayedUserText(fresh), [], 'no caller words as text: they come as audio');
  });
});

const count = (s: AiSession, value: number): number => appendedValues(s).filter((v) => v === value).length;

test('a drop while the caller is mid-sentence after a transcribed question: no answer is asked for over them, their words go as audio', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '0' } }, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    call.ai(s, transcribed('u1', 'When do you open?'));
    await sleep(300);
    call.ai(s, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'u2' });
    await sleep(300);
    s.ws.close(1011, 'internal error');
    await eventually(() => call.sessions.length === 2, 4000, 'the reconnect');
    const fresh = call.sessions[1]!;
    await eventually(() => replayedUserText(fresh).length > 0, 3000, 'the replay');
    // Time for a wrong response.create to follow the replay.
    await sleep(300);
    assert.equal(fresh.received.filter((e) => e.type === 'response.create').length, 0, 'no answer over the caller');
    assert.deepEqual(replayedUserText(fresh), ['When do you open?']);
  });
});

test('a session that drops before taking the resent question: the next one hears all of it again, and is not asked to speak unprompted', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '1500' } }, async (call, s) => {
    await call.turn(s, 0x11, 'u1', 2000);
    await eventually(() => call.sessions.length === 2, 5000, 'a replacement session');
    const second = call.sessions[1]!;
    await eventually(() => count(second, 0x11) > 0, 2000, 'the question resent');
    await sleep(100);
    second.ws.close(1011, 'internal error');
    await eventually(() => call.sessions.length === 3, 4000, 'the reconnect');
    const third = call.sessions[2]!;
    await eventually(() => count(third, 0x11) >= count(second, 0x11), 3000, 'the question resent to the third session');
    // Time for a wrong response.create, or more of the question than there was, to follow.
    await sleep(300);
    assert.equal(third.received.filter((e) => e.type === 'response.create').length, 0);
    assert.equal(count(third, 0x11), count(second, 0x11), 'the whole question again');
  });
});

test('words resent as audio and transcribed by the new session are not replayed twice to the one after it', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '2000' } }, async (call, s) => {
    const second = await questionThenHello(call, s, { u2: 'Hello?' });
    call.ai(second, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'n1' });
    call.ai(second, { type: 'input_audio_buffer.committed', item_id: 'n1' });
    call.ai(second, transcribed('n1', 'When do you open? Hello?'));
    call.ai(second, created('r2'));
    call.ai(second, words('r2', 'We open at nine.'));
    call.ai(second, audio('r2'));
    call.ai(second, done('r2', 'completed'));
    await sleep(200);
    second.ws.close(1011, 'internal error');
    await eventually(() => call.sessions.length === 3, 4000, 'the reconnect');
    const third = call.sessions[2]!;
    await eventually(() => third.received.some((e) => e.type === 'conversation.item.create' && (e.item as { role?: string }).role === 'assistant'), 2000, 'the replay');
    await sleep(100);
    assert.deepEqual(replayedUserText(third), ['When do you open? Hello?']);
  });
});

test('an untranscribed question, a reply that never spoke, and a transcribed "hello?": the question is not lost', async () => {
  await withScriptedCall({ env: { AI_REPLY_TIMEOUT_MS: '2000' } }, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    call.ai(s, created('r1'));
    call.ai(s, words('r1', 'Let me'));
    await sleep(300);
    await call.turn(s, 0x22, 'u2');
    call.ai(s, transcribed('u2', 'Hello?'));
    await eventually(() => call.sessions.length === 2, 5000, 'a replacement session');
    const fresh = call.sessions[1]!;
    await eventually(() => count(fresh, 0x22) > 0, 2000, 'the utterances resent');
    assert.ok(count(fresh, 0x11) > 0, 'the question, as audio');
    assert.deepEqual(replayedUserText(fresh), [], 'both turns as audio, neither as text');
  });
});

test('a tool-calling response that stalls: the new session is asked for the answer, and is watched too (fallback when silent)', async () => {
  await withScriptedCall({}, async (call, s) => {
    call.ai(s, created('r1'));
    call.ai(s, toolCall('r1'));
    // No response.done: the response is stuck.
    await eventually(() => call.sessions.length === 2, 4000, 'a replacement session');
    const fresh = call.sessions[1]!;
    await eventually(() => fresh.received.some((e) => e.type === 'response.create'), 2000, 'the owed answer asked for');
    // The fresh session stays silent as well: the second miss in a row goes to the fallback.
    await eventually(() => call.twilioClosed(), 5000, 'the call handed to the fallback');
    assert.equal(call.sessions.length, 2, 'no third session');
  });
});

test('a tool call in a response the caller barged into asks for no response: the caller\'s turn gets the reply', async () => {
  await withScriptedCall({}, async (call, s) => {
    call.ai(s, created('r1'));
    await sleep(50);
    call.ai(s, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'u1' });
    call.ai(s, toolCall('r1'));
    call.ai(s, done('r1', 'cancelled'));
    await eventually(() => s.received.some((e) => e.type === 'conversation.item.create'), 2000, 'the tool output');
    await sleep(300);
    assert.equal(s.received.filter((e) => e.type === 'response.create').length, 0);
  });
});

test('session_expired while a reply is owed: the rollover that becomes the reconnect gets the unanswered question', async () => {
  // Later sessions confirm their configuration after 300 ms, so the old one is gone before the new one serves.
  await withScriptedCall({ delayLaterSessionsMs: 300 }, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    await sleep(50);
    call.ai(s, expired);
    await sleep(20);
    s.ws.close(1001, 'session_expired');
    await eventually(() => call.sessions.length === 2, 4000, 'the new session');
    const fresh = call.sessions[1]!;
    await eventually(() => appendedValues(fresh).includes(0x11), 2000, 'the question resent to it');
    // It answers, so no later miss is due: a session replaced now (a stale clock) is the fault, whenever it shows.
    answer(call, fresh, 'r2');
    await sleep(1500);
    assert.equal(call.sessions.length, 2, 'recovered without another miss');
  });
});

test('session_expired while a reply is owed, the new session ready before the old one closes: it takes the question at once', async () => {
  await withScriptedCall({}, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    await sleep(50);
    call.ai(s, expired);
    // The service closes an expired session soon after (late here, so that it is the bridge that must close it);
    // the next session confirms its configuration at once.
    let serverClosedIt = false;
    const serverClose = setTimeout(() => {
      serverClosedIt = true;
      s.ws.close(1001, 'session_expired');
    }, 5000);
    try {
      await eventually(() => call.sessions.length === 2, 4000, 'the new session');
      await eventually(() => appendedValues(call.sessions[1]!).includes(0x11), 2000, 'the question resent to it');
      await eventually(() => s.closed, 2000, 'the expired session closed by the bridge');
      assert.equal(serverClosedIt, false, 'the bridge, not the server, closed the expired session');
      assert.equal(call.sessions[1]!.closed, false, 'the new session serves: no rollover is put off for a session that is going anyway');
    } finally {
      clearTimeout(serverClose);
    }
    const fresh = call.sessions[1]!;
    answer(call, fresh, 'r2');
    await sleep(1500);
    assert.equal(call.sessions.length, 2, 'no further session');
  });
});

test('a caller who speaks during the outage after a cut reply: the finish asked for is cancelled when the new session hears them, and their turn is answered', async () => {
  await withScriptedCall({ delayLaterSessionsMs: 600 }, async (call, s) => {
    await call.turn(s, 0x11, 'u1');
    call.ai(s, created('r1'));
    call.ai(s, words('r1', 'We open at'));
    call.ai(s, audio('r1'));
    await sleep(50);
    s.ws.close(1011, 'internal error');
    // No session hears this: it waits in the bridge for the next one.
    call.say(0x33);
    await sleep(300);
    call.say(SILENCE);
    await eventually(() => call.sessions.length === 2, 4000, 'the reconnect');
    const fresh = call.sessions[1]!;
    await eventually(() => appendedValues(fresh).includes(0x33), 2000, 'the words said during the outage');
    const types = fresh.received.map((e) => e.type);
    const firstWords = fresh.received.findIndex((e) => e.type === 'input_audio_buffer.append' && Buffer.from(String(e.audio), 'base64')[0] === 0x33);
    assert.ok(types.indexOf('response.create') >= 0 && types.indexOf('response.create') < firstWords, 'the finish is asked for before the buffered words arrive');
    // The server starts the finish, then its VAD hears the words: the bridge cancels the finish, and the turn is answered.
    call.ai(fresh, created('r2'));
    call.ai(fresh, { type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'u2' });
    await eventually(() => fresh.received.some((e) => e.type === 'response.cancel'), 2000, 'the finish cancelled');
    call.ai(fresh, done('r2', 'cancelled'));
    call.ai(fresh, { type: 'input_audio_buffer.speech_stopped', audio_end_ms: 300, item_id: 'u2' });
    call.ai(fresh, { type: 'input_audio_buffer.committed', item_id: 'u2' });
    answer(call, fresh, 'r3');
    // Past the reply timeout (1 s): the cancelled finish is no missed reply, and the answer counts.
    await sleep(1500);
    assert.equal(call.sessions.length, 2, 'no replacement session');
    assert.equal(call.twilioClosed(), false, 'no hand-off to the fallback');
    assert.equal(fresh.received.filter((e) => e.type === 'response.create').length, 1, 'the finish was asked for once');
  });
});
