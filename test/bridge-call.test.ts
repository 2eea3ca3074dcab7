// Whole calls through real sockets on loopback: the call simulator (Twilio +
// a caller) against the bridge against the local realtime peer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readWav } from '../src/audio/wav.js';
import { runSimulatedCall, type CallStep } from '../src/devtools/call-simulator/index.js';
import { startRealtimePeer, type RealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { ACCOUNT_SID, API_KEY, AUTH_TOKEN, PUBLIC_URL, eventually, startBridge, watchLoopStalls, type RunningBridge } from './support/bridge-harness.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';
import { bestCorrelation, crudeDecimate, rms } from './support/audio-compare.js';

const QUESTION = 'fixtures/caller-question.wav';
const INTERRUPT = 'fixtures/caller-interrupt.wav';
// 2.5 s of the reply keeps each test short while leaving room to barge in.
const REPLY = readWav('fixtures/assistant-reply.wav').samples.slice(0, 60_000);

let peer: RealtimePeer;
const bridges: RunningBridge[] = [];

before(async () => {
  peer = await startRealtimePeer({
    apiKey: API_KEY,
    reply: () => ({ type: 'audio', samples24k: REPLY, transcript: 'The library opens at nine on Saturdays.' }),
    vad: { silenceDurationMsOverride: 300 },
  });
});
after(async () => {
  for (const b of bridges) await b.close();
  await peer.close();
});

async function bridgeFor(env: Record<string, string> = {}): Promise<RunningBridge> {
  const b = await startBridge({ OPENAI_BASE_URL: peer.baseUrl, ...env });
  bridges.push(b);
  return b;
}

function call(bridge: RunningBridge, script: CallStep[], extra: { dropSilentFrames?: boolean } = {}) {
  return runSimulatedCall({ bridgeUrl: bridge.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, script, ...extra });
}

test('a full call: the AI hears the caller, the caller hears the AI, paced and clean', async () => {
  const bridge = await bridgeFor();
  const sessionsBefore = peer.sessions.length;
  const report = await call(bridge, [{ say: QUESTION }, { waitFor: 'assistantDone', idleMs: 400 }, { hangup: true }]);

  assert.deepEqual(report.violations, [], 'every bridge message is valid Media Streams protocol');
  assert.equal(report.upgradeStatus, 101);
  assert.equal(report.scriptTimeouts.length, 0, 'the assistant answered');
  assert.equal(report.closeCode, 1000);

  const session = peer.sessions[sessionsBefore]!;
  assert.equal(session.credential.kind, 'ephemeral', 'the socket used a minted ek_ token');
  assert.ok(!JSON.stringify(session.headers).includes(API_KEY), 'the long-lived key never travels on the media socket');
  assert.equal(session.headers['openai-beta'], undefined);
  const update = session.receivedOfType('session.update')[0];
  assert.ok(update, 'session.update sent');
  assert.deepEqual(session.config?.audio?.input?.format, { type: 'audio/pcm', rate: 24000 });
  assert.ok(peer.tokenRequests.some((r) => r.authorization === 'apiKey'), 'the key was used at the token endpoint');

  // The AI side received the caller's speech, upsampled, in order, with nothing lost.
  const appends = session.receivedOfType('input_audio_buffer.append');
  const appendedMs = appends.reduce((ms, a) => ms + Buffer.from(a.audio, 'base64').length / 48, 0);
  assert.ok(Math.abs(appendedMs - report.framesSent * 20) <= 20, `appended ${appendedMs} ms for ${report.framesSent} frames`);
  assert.ok(session.sentOfType('input_audio_buffer.speech_started').length >= 1, "the peer's VAD heard speech");

  // The caller heard the reply: same audio (after 24 → 8 kHz and μ-law), close to real time.
  assert.ok(Math.abs(report.audioReceivedMs - REPLY.length / 24) <= 25, `received ${report.audioReceivedMs} ms`);
  const reference = crudeDecimate(REPLY).slice(4000, 12000);
  const start = report.playback[0]!.startMs * 8;
  const match = bestCorrelation(report.heard, reference, start + 3500, start + 4500);
  assert.ok(match.score > 0.95, `heard audio matches the reply (correlation ${match.score.toFixed(3)})`);
  // The bridge's pacer bounds its lead by construction; the simulator sees that plus its own scheduling jitter.
  const summary = bridge.logs.map((l) => l.summary as { callSid?: string; maxLeadMs?: number } | undefined).find((s) => s?.callSid === report.callSid);
  assert.ok(summary?.maxLeadMs !== undefined && summary.maxLeadMs <= 200, `bridge lead ${summary?.maxLeadMs} ms`);
  assert.ok(report.maxLeadMs <= 400, `lead seen by the caller's side stayed small (${report.maxLeadMs} ms)`);
  assert.equal(report.latenciesMs.length, 1);
});

test('barge-in after the reply finished streaming: clear at once and truncate at what was heard', async () => {
  const bridge = await bridgeFor();
  const sessionsBefore = peer.sessions.length;
  const stalls = watchLoopStalls();
  const report = await call(bridge, [
    { say: QUESTION },
    { bargeIn: 900, say: INTERRUPT },
    { waitFor: 'assistantDone', idleMs: 400 },
    { hangup: true },
  ]).finally(() => stalls.stop());
  assert.deepEqual(report.violations, []);
  assert.equal(report.clears.length, 1, 'one clear');
  const session = peer.sessions[sessionsBefore]!;
  const truncates = session.receivedOfType('conversation.item.truncate');
  assert.equal(truncates.length, 1);
  const firstReplyItem = session.sentOfType('response.output_audio.delta')[0]!.item_id;
  assert.equal(truncates[0]!.item_id, firstReplyItem);
  // The simulator knows what the caller heard of the first reply before the clear.
  const clearAt = report.clears[0]!.atMs;
  const firstSpan = report.playback[0]!;
  const heardBeforeClear = Math.min(clearAt, firstSpan.endMs) - firstSpan.startMs;
  const truncatedAt = truncates[0]!.audio_end_ms;
  assert.ok(truncatedAt <= heardBeforeClear + 5, `truncated at ${truncatedAt} ms, heard ${heardBeforeClear} ms: never past what was heard`);
  // Truncation goes by acknowledged marks; acks due during a stall of the loop may be read after the barge-in.
  const slack = 120 + stalls.maxMs();
  assert.ok(truncatedAt >= heardBeforeClear - slack, `truncated at ${truncatedAt} ms, heard ${heardBeforeClear} ms: within a few marks (loop stalled up to ${stalls.maxMs().toFixed(0)} ms)`);
  assert.ok(truncatedAt < REPLY.length / 24, 'truncation is inside the item');
  // The first reply stopped: nothing of it played after the clear.
  assert.ok(report.discardedMs > 0 || report.clears[0]!.discardedMs >= 0);
  const second = report.playback.find((s) => s.startMs > clearAt);
  assert.ok(second, 'the second reply played');
  const interruptSpeech = report.speech[1]!;
  assert.ok(second.startMs >= interruptSpeech.voiceEndMs, 'no late audio of the cancelled reply reached the caller');
  // This peer streams faster than real time, so the first response had completed server-side: no cancel is due.
  assert.equal(session.receivedOfType('response.cancel').length, 0);
});

test('barge-in while the response is still streaming: cancel it and drop its late deltas', async () => {
  // A peer that speaks at real time keeps the response active when the caller cuts in.
  const slow = await startRealtimePeer({
    apiKey: API_KEY,
    reply: () => ({ type: 'audio', samples24k: REPLY }),
    vad: { silenceDurationMsOverride: 300 },
    pacing: { chunkMs: 100, deltasPerBurst: 1, burstIntervalMs: 100, firstDeltaDelayMs: 50 },
  });
  try {
    const bridge = await startBridge({ OPENAI_BASE_URL: slow.baseUrl });
    bridges.push(bridge);
    const report = await call(bridge, [{ say: QUESTION }, { bargeIn: 700, say: INTERRUPT }, { waitFor: 'assistantDone', idleMs: 400 }, { hangup: true }]);
    assert.deepEqual(report.violations, []);
    const session = slow.sessions[0]!;
    const firstResponse = session.sentOfType('response.created')[0]!.response as { id: string };
    const done = session.sentOfType('response.done').find((e) => (e.response as { id: string }).id === firstResponse.id)!;
    assert.equal((done.response as { status: string }).status, 'cancelled');
    // Deltas of the first response that the peer sent after the caller began speaking never played.
    const clearAt = report.clears[0]!.atMs;
    const next = report.playback.find((s) => s.startMs > clearAt);
    assert.ok(next === undefined || next.startMs >= report.speech[1]!.voiceEndMs, 'nothing of the cancelled reply after the clear');
    assert.equal(session.receivedOfType('conversation.item.truncate').length, 1);
  } finally {
    await slow.close();
  }
});

test('dropped silent packets are filled with silence: the AI clock stays true and the turn still ends', async () => {
  const bridge = await bridgeFor();
  const sessionsBefore = peer.sessions.length;
  // The network drops every silent frame, including all of them after the caller stops talking.
  const report = await call(bridge, [{ silenceMs: 400 }, { say: QUESTION }, { waitFor: 'assistantDone', idleMs: 400 }, { hangup: true }], {
    dropSilentFrames: true,
  });
  assert.ok(report.framesDropped > 20, `the network dropped ${report.framesDropped} frames`);
  assert.equal(report.latenciesMs.length, 1, 'the AI heard the end of the turn and answered');
  const session = peer.sessions[sessionsBefore]!;
  await eventually(() => bridge.calls.size === 0);
  const appendedMs = session.receivedOfType('input_audio_buffer.append').reduce((ms, a) => ms + Buffer.from(a.audio, 'base64').length / 48, 0);
  assert.ok(appendedMs >= report.framesSent * 20 + 400, `gaps filled: ${appendedMs} ms appended for ${report.framesSent} frames sent`);
  assert.ok(appendedMs <= report.durationMs + 40, `never ahead of the stream clock: ${appendedMs} ms in ${report.durationMs} ms`);
});

test('pcmu mode passes μ-law straight through both ways', async () => {
  const bridge = await bridgeFor({ AUDIO_MODE: 'pcmu' });
  const sessionsBefore = peer.sessions.length;
  const report = await call(bridge, [{ say: QUESTION }, { waitFor: 'assistantDone', idleMs: 400 }, { hangup: true }]);
  assert.deepEqual(report.violations, []);
  const session = peer.sessions[sessionsBefore]!;
  assert.deepEqual(session.config?.audio?.input?.format, { type: 'audio/pcmu' });
  const appends = session.receivedOfType('input_audio_buffer.append');
  assert.ok(appends.every((a) => Buffer.from(a.audio, 'base64').length === 160), 'one 20 ms μ-law frame per append');
  assert.ok(Math.abs(report.audioReceivedMs - REPLY.length / 24) <= 25);
  assert.ok(rms(report.heard) > 100);
});

test("one turn's messages to Twilio leave in one socket write (the Twilio socket is held until the batch ends)", async () => {
  const bridge = await bridgeFor();
  // Spy on the real TCP sockets: every flush of the bridge's end of a Twilio media stream, and how many chunks it
  // carried. ws writes each frame as a header and a payload chunk, so a flush of 4 or more chunks carried two or more
  // messages; without the hold, each message would be flushed on its own.
  const writev = net.Socket.prototype._writev!;
  const flushes: number[] = [];
  net.Socket.prototype._writev = function (this: net.Socket, chunks, cb) {
    if (this.localPort === bridge.port) flushes.push(chunks.length);
    return writev.call(this, chunks, cb);
  };
  try {
    const report = await call(bridge, [{ say: QUESTION }, { waitFor: 'assistantDone', idleMs: 400 }, { hangup: true }]);
    assert.deepEqual(report.violations, []);
    assert.ok(report.marksSent > 0, 'media and marks went out');
  } finally {
    net.Socket.prototype._writev = writev;
  }
  assert.ok(flushes.length > 0, 'the Twilio socket was written through _writev');
  assert.ok(Math.max(...flushes) >= 4, `a media frame and its mark left in one write (largest flush: ${Math.max(...flushes)} chunks)`);
});

test('barge-in at an answer changeover: both answers are truncated where the caller heard them', async () => {
  // One response with two audio items, streamed at once (faster than real time, as the service does). The caller
  // cuts in while the first answer's tail still plays and the second answer's audio waits behind it: the bridge must
  // truncate the first where it was heard, and the second at what little (or none) of it played.
  const ITEM_MS = 600;
  const pcm = (ms: number) => Buffer.from(REPLY.slice(0, ms * 24).buffer);
  const received: { type: string; item_id?: string; audio_end_ms?: number }[] = [];
  const upstream = await startScriptedUpstream((ws) => {
    let answered = false;
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; item_id?: string; audio_end_ms?: number };
      received.push(msg);
      if (msg.type === 'session.update') ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
      // The caller's audio is flowing, so Twilio's stream has started: answer once.
      if (msg.type !== 'input_audio_buffer.append' || answered) return;
      answered = true;
      const send = (event: object) => ws.send(JSON.stringify(event));
      send({ type: 'response.created', response: { id: 'resp_1', status: 'in_progress' } });
      for (const item of ['item_a', 'item_b']) {
        const audio = pcm(ITEM_MS);
        for (let at = 0; at < audio.length; at += 4800) {
          send({ type: 'response.output_audio.delta', response_id: 'resp_1', item_id: item, output_index: item === 'item_a' ? 0 : 1, content_index: 0, delta: audio.subarray(at, at + 4800).toString('base64') });
        }
      }
      send({ type: 'response.done', response: { id: 'resp_1', status: 'completed', usage: {} } });
      // Half-way into the first answer as the caller hears it (the pacer leads by at most 200 ms, so the rest of it
      // has gone out and the second answer's audio waits behind it). 240 ms before the first answer ends leaves a
      // loaded machine room to deliver it late and still cut in during the first answer.
      setTimeout(() => send({ type: 'input_audio_buffer.speech_started', item_id: 'item_user_2', audio_start_ms: 1000 }), 300);
    });
  });
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl });
  const stalls = watchLoopStalls();
  try {
    const report = await call(bridge, [{ silenceMs: 1500 }, { hangup: true }]);
    assert.deepEqual(report.violations, []);
    assert.equal(report.clears.length, 1, 'one clear silenced the line');
    const clearAt = report.clears[0]!.atMs;
    const startedAt = report.playback[0]!.startMs;
    const heard = clearAt - startedAt;
    assert.ok(heard > 100 && heard < ITEM_MS - 60, `the barge-in came while the first answer played (heard ${heard} ms)`);

    await eventually(() => received.filter((m) => m.type === 'conversation.item.truncate').length >= 2, 2000, 'two truncates');
    const truncates = received.filter((m) => m.type === 'conversation.item.truncate');
    assert.deepEqual(truncates.map((t) => t.item_id), ['item_a', 'item_b'], 'both answers, oldest first');
    const [a = -1, b = -1] = truncates.map((t) => t.audio_end_ms ?? -1);
    assert.ok(a <= heard + 5, `first answer truncated at ${a} ms, heard ${heard} ms: never past what was heard`);
    // Truncation goes by acknowledged marks; acks due during a stall of the loop may be read after the barge-in.
    assert.ok(a >= heard - 120 - stalls.maxMs(), `first answer truncated at ${a} ms, heard ${heard} ms: within a few marks (loop stalled up to ${stalls.maxMs().toFixed(0)} ms)`);
    assert.equal(b, 0, 'nothing of the second answer was heard');
    assert.equal(received.filter((m) => m.type === 'response.cancel').length, 0, 'the response had completed: nothing to cancel');
    // Nothing of either answer played after the clear.
    assert.ok(report.playback.every((s) => s.startMs <= clearAt), 'no audio after the clear');
  } finally {
    stalls.stop();
    await bridge.close();
    await upstream.close();
  }
});
