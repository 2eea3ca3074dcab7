// Upstream faults injected by the local realtime peer, through real sockets:
// each test checks what the caller hears, what the new session received, and
// that nothing was played twice.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { readWav } from '../src/audio/wav.js';
import { SimulatedCall, type CallReport, type CallStep } from '../src/devtools/call-simulator/index.js';
import { startRealtimePeer, type PeerSession, type RealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { TwilioApiStandIn } from '../src/devtools/twilio-api/twilio-api-stand-in.js';
import { ACCOUNT_SID, API_KEY, AUTH_TOKEN, PUBLIC_URL, eventually, startBridge, type RunningBridge } from './support/bridge-harness.js';
import type { CallSummary } from '../src/call/call-session.js';
import { rms } from './support/audio-compare.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

const QUESTION = 'fixtures/caller-question.wav';
const INTERRUPT = 'fixtures/caller-interrupt.wav';
const REPLY = readWav('fixtures/assistant-reply.wav').samples.slice(0, 36_000); // 1.5 s

let peer: RealtimePeer;
let twilioApi: TwilioApiStandIn;
let bridge: RunningBridge;
const summaries: CallSummary[] = [];

before(async () => {
  peer = await startRealtimePeer({
    apiKey: API_KEY,
    reply: () => ({ type: 'audio', samples24k: REPLY, transcript: 'We open at nine on Saturdays and close at five.' }),
    vad: { silenceDurationMsOverride: 300 },
    // Real-time pacing keeps a response in flight long enough to cut it.
    pacing: { chunkMs: 100, deltasPerBurst: 1, burstIntervalMs: 100, firstDeltaDelayMs: 50 },
  });
  twilioApi = await TwilioApiStandIn.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  bridge = await startBridge(
    { OPENAI_BASE_URL: peer.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl, UPSTREAM_CONNECT_TIMEOUT_MS: '400', OUTAGE_BUDGET_MS: '2500' },
    { onCallEnded: (s) => summaries.push(s) },
  );
  // Twilio ends the stream when a call's TwiML is replaced.
  twilioApi.onUpdate((u) => calls.get(u.callSid)?.hangup('Twilio: TwiML replaced'));
});
after(async () => {
  await bridge.close();
  await peer.close();
  await twilioApi.close();
});

const calls = new Map<string, SimulatedCall>();

function placeCall(script: CallStep[], bridgeUrl = bridge.url): { call: SimulatedCall; done: Promise<CallReport> } {
  const sid = 'CA' + randomBytes(16).toString('hex');
  const call = new SimulatedCall({ bridgeUrl, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, callSid: sid, script });
  calls.set(sid, call);
  const done = call.run();
  return { call, done };
}

async function run(script: CallStep[]): Promise<CallReport> {
  const { done } = placeCall(script);
  return done;
}

function sessionsOf(from: number): PeerSession[] {
  // Sessions opened for this call: the peer records them in order; tests run one call at a time.
  return peer.sessions.slice(from).filter((s) => s.credential.kind === 'ephemeral' || s.closed !== null);
}

function summaryOf(report: CallReport): CallSummary {
  const s = summaries.find((x) => x.callSid === report.callSid);
  assert.ok(s, 'call summary logged');
  return s;
}

function appendedMs(s: PeerSession): number {
  return s.receivedOfType('input_audio_buffer.append').reduce((ms, a) => ms + Buffer.from(a.audio, 'base64').length / 48, 0);
}

const callerSpeaksTwice: CallStep[] = [
  { say: QUESTION },
  { waitFor: 'assistantDone', idleMs: 300 },
  { say: INTERRUPT },
  { waitFor: 'assistantDone', idleMs: 300 },
  { hangup: true },
];

test('drop during an assistant response: reconnect at once, replay as text, the rest asked for, nothing played twice', async () => {
  const first = peer.sessions.length;
  const tokensBefore = peer.tokenRequests.length;
  // Cut the socket 800 ms into the first answer, when part of its transcript has arrived.
  let hit: PeerSession | undefined;
  let heardBeforeDropMs = 0;
  const cutter = (session: PeerSession, info: { sentMs: number }) => {
    if (hit === undefined && session.index >= first && info.sentMs >= 800) {
      heardBeforeDropMs = info.sentMs;
      hit = peer.faults.drop(session);
    }
  };
  peer.on('responseAudio', cutter);
  // The caller waits through the gap the drop leaves for the rest of the answer, then speaks again.
  const report = await run([
    { say: QUESTION },
    { waitFor: 'assistantDone', idleMs: 1500 },
    { say: INTERRUPT },
    { waitFor: 'assistantDone', idleMs: 300 },
    { hangup: true },
  ]);
  peer.off('responseAudio', cutter);
  assert.ok(hit, 'the fault fired');
  await eventually(() => summaries.some((s) => s.callSid === report.callSid));
  const sessions = sessionsOf(first);
  assert.equal(sessions.length, 2, 'one reconnect');
  assert.equal(hit.index, sessions[0]!.index);
  const [, second] = sessions as [PeerSession, PeerSession];
  assert.equal(peer.tokenRequests.length - tokensBefore, 2, 'a fresh token for each connection');
  assert.equal(second.credential.kind, 'ephemeral');
  // Audio flowed again quickly: the first retry is immediate (a mint and an upgrade on loopback); the bound leaves
  // a loaded machine room while still ruling out a backoff step or the 5 s cap.
  const gap = second.openedAt - (hit.closed?.at ?? second.openedAt);
  assert.ok(gap < 1500, `new session ${gap} ms after the drop`);
  // The new session got the same config, then the conversation as text, before any audio.
  const types = second.received.map((e) => e.type);
  assert.equal(types[0], 'session.update');
  const firstAppend = types.indexOf('input_audio_buffer.append');
  const replayed = second.receivedOfType('conversation.item.create').map((e) => e.item);
  assert.ok(replayed.length >= 2, 'user and assistant text replayed');
  assert.ok(types.lastIndexOf('conversation.item.create') < firstAppend || firstAppend < 0, 'replay precedes audio');
  assert.equal((replayed[0] as { role?: string }).role, 'user');
  const assistant = replayed.find((i) => (i as { role?: string }).role === 'assistant') as unknown as { content: { type: string; text: string }[] };
  assert.equal(assistant.content[0]!.type, 'output_text');
  assert.ok(assistant.content[0]!.text.length > 0);
  // The caller was left mid-sentence: the new session was asked, once and after the replay, to finish the reply;
  // then it answered the caller's next words.
  assert.equal(second.receivedOfType('response.create').length, 1);
  assert.ok(types.indexOf('response.create') > types.lastIndexOf('conversation.item.create'));
  assert.equal(second.sentOfType('response.created').length, 2);
  assert.equal(report.latenciesMs.length, 2, 'the caller heard an answer to both utterances');
  // What arrived before the drop played once: the caller heard it, the finished reply and the second answer.
  const replyMs = REPLY.length / 24;
  assert.ok(report.audioReceivedMs >= heardBeforeDropMs + 2 * replyMs - 100, `heard ${report.audioReceivedMs} ms`);
  assert.ok(report.audioReceivedMs <= heardBeforeDropMs + 2 * replyMs + 20, `no audio played twice: heard ${report.audioReceivedMs} ms`);
  assert.deepEqual(report.violations, []);
  assert.equal(summaryOf(report).reconnects, 1);
});

test('drop during caller speech: the utterance in progress and the outage audio reach the new session, none lost', async () => {
  const first = peer.sessions.length;
  const dropped = peer.faults.dropNext({ when: 'speech' });
  const report = await run([{ say: QUESTION }, { waitFor: 'assistantDone', idleMs: 300 }, { hangup: true }]);
  await dropped;
  await eventually(() => summaries.some((s) => s.callSid === report.callSid));
  const sessions = sessionsOf(first);
  assert.equal(sessions.length, 2);
  const [old, fresh] = sessions as [PeerSession, PeerSession];
  const sent = report.framesSent * 20;
  const summary = summaryOf(report);
  assert.equal(summary.callerAudioDroppedMs, 0);
  // The old session had not committed the utterance: the new one gets it again, from before the speech began.
  assert.equal(old.sentOfType('input_audio_buffer.committed').length, 0);
  assert.ok(summary.callerAudioResentMs >= 300, `resent ${summary.callerAudioResentMs} ms of the utterance in progress`);
  const freshMs = appendedMs(fresh);
  const oldMs = appendedMs(old);
  assert.ok(freshMs >= sent - oldMs + summary.callerAudioResentMs - 40, `nothing lost: fresh ${freshMs} + old ${oldMs} for ${sent} sent`);
  assert.ok(fresh.sentOfType('input_audio_buffer.speech_started').length >= 1, 'the new session heard the speech');
  assert.ok(report.latenciesMs.length >= 1, 'the caller got an answer');
});

test('drop during a tool call: the call and its output are replayed and the model answers', async () => {
  const first = peer.sessions.length;
  peer.queueReply({ type: 'function_call', name: 'lookup_hours', arguments: { day: 'saturday' }, callId: 'call_hours_1' });
  // Cut the socket the moment the bridge's tool output arrives: the model has not answered it yet.
  let cut = false;
  const cutter = (session: PeerSession, received: { event?: { type: string; item?: { type?: string } } }) => {
    if (!cut && received.event?.type === 'conversation.item.create' && received.event.item?.type === 'function_call_output') {
      cut = true;
      peer.faults.drop(session);
    }
  };
  peer.on('clientEvent', cutter);
  const report = await run([{ say: QUESTION }, { waitFor: 'assistantAudio', timeoutMs: 5000 }, { waitFor: 'assistantDone', idleMs: 300 }, { hangup: true }]);
  peer.off('clientEvent', cutter);
  assert.ok(cut, 'the fault fired');
  const sessions = sessionsOf(first);
  assert.equal(sessions.length, 2);
  const replayed = sessions[1]!.receivedOfType('conversation.item.create').map((e) => e.item as { type: string; call_id?: string });
  const call = replayed.find((i) => i.type === 'function_call');
  const output = replayed.find((i) => i.type === 'function_call_output');
  assert.equal(call?.call_id, 'call_hours_1');
  assert.equal(output?.call_id, 'call_hours_1');
  assert.equal(sessions[1]!.receivedOfType('response.create').length, 1, 'the owed answer is asked for once');
  assert.ok(report.audioReceivedMs > 0, 'the caller heard the answer');
});

for (const [code, reason] of [
  [1001, 'going away'],
  [1011, 'server error'],
] as const) {
  test(`close ${code} mid-call is retried and the conversation goes on`, async () => {
    const first = peer.sessions.length;
    const closedAt = peer.faults.closeNext({ when: 'response', code, reason });
    const report = await run(callerSpeaksTwice);
    await closedAt;
    assert.equal(sessionsOf(first).length, 2);
    assert.equal(report.latenciesMs.length, 2);
    assert.equal(twilioApi.updates.filter((u) => u.callSid === report.callSid).length, 0, 'no fallback needed');
  });
}

for (const [code, reason] of [
  [3000, 'invalid_api_key'],
  [4000, 'beta_api_shape_disabled'],
] as const) {
  test(`close ${code} ${reason} is fatal: no retry, straight to the fallback over REST`, async () => {
    const first = peer.sessions.length;
    const closedAt = peer.faults.closeNext({ when: 'speech', code, reason });
    const report = await run([{ say: QUESTION }, { silenceMs: 3000 }, { hangup: true }]);
    await closedAt;
    const update = twilioApi.updates.find((u) => u.callSid === report.callSid);
    assert.ok(update?.twiml?.includes('<Say>'), 'the call was handed to the fallback TwiML');
    assert.equal(sessionsOf(first).length, 1, 'never retried');
    assert.equal(report.endReason, 'Twilio: TwiML replaced');
    assert.equal(summaryOf(report).outcome, 'fallback');
  });
}

test('refused upgrades are retried on the backoff schedule until one is accepted', async () => {
  const first = peer.sessions.length;
  const upgradesBefore = peer.upgrades.length;
  peer.faults.refuseUpgrades(3, { status: 503 });
  const report = await run([{ say: QUESTION }, { waitFor: 'assistantDone', idleMs: 300 }, { hangup: true }]);
  const attempts = peer.upgrades.slice(upgradesBefore, upgradesBefore + 4);
  assert.equal(attempts.length, 4);
  // Immediate retry, then about 250 and 500 ms (±20 %). A stall can only lengthen a gap, so the lower bounds are
  // tight and the upper ones leave a loaded machine room (the exact schedule is the policy's unit test).
  const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
  assert.ok(gaps[0]! < 180, `first retry after ${gaps[0]} ms`);
  assert.ok(gaps[1]! >= 180 && gaps[1]! < 1200, `second retry after ${gaps[1]} ms`);
  assert.ok(gaps[2]! >= 380 && gaps[2]! < 1500, `third retry after ${gaps[2]} ms`);
  assert.equal(sessionsOf(first).length, 1);
  assert.equal(report.latenciesMs.length, 1, 'the call went on');
  assert.equal(summaryOf(report).callerAudioDroppedMs, 0, 'caller audio waited for the session');
});

for (const status of [401, 403]) {
  test(`an upgrade answered ${status} is fatal: fallback, no retries`, async () => {
    const upgradesBefore = peer.upgrades.length;
    peer.faults.refuseUpgrades(1, { status });
    const report = await run([{ say: QUESTION }, { silenceMs: 2000 }, { hangup: true }]);
    assert.equal(peer.upgrades.length - upgradesBefore, 1, 'not retried');
    assert.ok(twilioApi.updates.some((u) => u.callSid === report.callSid && u.twiml));
  });
}

test('token endpoint failures and stalls are retried; each attempt mints afresh', async () => {
  const tokensBefore = peer.tokenRequests.length;
  peer.faults.failTokenRequests(1, { status: 500 });
  peer.faults.failTokenRequests(1, 'stall');
  const report = await run([{ say: QUESTION }, { waitFor: 'assistantDone', idleMs: 300 }, { hangup: true }]);
  assert.equal(peer.tokenRequests.length - tokensBefore, 3, 'failed, stalled (timed out), then minted');
  assert.equal(report.latenciesMs.length, 1);
});

test('session_expired rolls over to a fresh session at once; the call goes on', async () => {
  const first = peer.sessions.length;
  const expired = peer.faults.expireNext({ when: 'speech' });
  const report = await run(callerSpeaksTwice);
  await expired;
  const sessions = sessionsOf(first);
  assert.equal(sessions.length, 2);
  assert.equal(sessions[1]!.receivedOfType('session.update').length, 1);
  assert.ok(report.latenciesMs.length >= 1);
  assert.equal(twilioApi.updates.filter((u) => u.callSid === report.callSid).length, 0);
});

test('a long outage: comfort audio after 500 ms, then the fallback at the outage budget', async () => {
  const first = peer.sessions.length;
  peer.faults.refuseUpgrades(1000, { status: 503 });
  try {
    const report = await run([{ say: QUESTION }, { silenceMs: 6000 }, { hangup: true }]);
    const update = twilioApi.updates.find((u) => u.callSid === report.callSid);
    assert.ok(update?.twiml, 'handed to the fallback over REST');
    assert.equal(report.endReason, 'Twilio: TwiML replaced');
    // The caller heard soft comfort audio, not dead air, from about 500 ms into the outage.
    const from = 0.8 * 8000;
    const to = 2.2 * 8000;
    const level = rms(report.heard, from, to);
    assert.ok(level > 3 && level < 300, `comfort audio level ${level.toFixed(1)}`);
    assert.equal(sessionsOf(first).length, 0);
    assert.ok(summaryOf(report).comfortFrames > 50);
  } finally {
    peer.faults.clear();
  }
});

test('a planned rollover at a turn boundary: make before break, same config, conversation replayed', async () => {
  const rollBridge = await startBridge(
    { OPENAI_BASE_URL: peer.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl, SESSION_ROLLOVER_AFTER_MS: '1000' },
    { onCallEnded: (s) => summaries.push(s) },
  );
  try {
    const first = peer.sessions.length;
    const { done } = placeCall(callerSpeaksTwice, rollBridge.url);
    const report = await done;
    await eventually(() => summaries.some((s) => s.callSid === report.callSid));
    const sessions = peer.sessions.slice(first);
    assert.ok(sessions.length >= 2, 'rolled over');
    const [old, fresh] = sessions as [PeerSession, PeerSession];
    assert.ok(old.closed !== null && old.closed.at >= fresh.openedAt, 'the old session closed only after the new one opened');
    assert.deepEqual(fresh.receivedOfType('session.update')[0]?.session, old.receivedOfType('session.update')[0]?.session);
    assert.ok(summaryOf(report).rollovers >= 1);
    assert.equal(report.latenciesMs.length, 2);
    assert.deepEqual(report.violations, []);
  } finally {
    await rollBridge.close();
  }
});

test('an upstream that accepts and drops at once meets a growing backoff and the outage budget, not a storm', async () => {
  // A hostile stand-in: accepts every socket and closes each at once with a retryable 1011.
  const upstream = await startScriptedUpstream((ws) => setTimeout(() => ws.close(1011, 'overloaded'), 5));
  const flapBridge = await startBridge(
    { OPENAI_BASE_URL: upstream.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl, OUTAGE_BUDGET_MS: '3000' },
    { onCallEnded: (s) => summaries.push(s) },
  );
  try {
    const { done } = placeCall([{ say: QUESTION }, { silenceMs: 4000 }, { hangup: true }], flapBridge.url);
    const report = await done;
    assert.ok(twilioApi.updates.some((u) => u.callSid === report.callSid && u.twiml), 'handed to the fallback within the budget');
    // 0, 250, 500, 1000 ms … over ~3 s is a handful of attempts, not hundreds.
    assert.ok(upstream.accepted() <= 12, `${upstream.accepted()} sessions opened in the outage`);
    assert.ok(summaryOf(report).comfortFrames > 20, 'the caller heard comfort audio, not dead air');
  } finally {
    await flapBridge.close();
    await upstream.close();
  }
});

test('a drop mid-response with a partial last frame still lets comfort audio play', async () => {
  // 1050 ms of reply, cut after its last delta and before response.done: 52.5 frames reach the bridge.
  peer.queueReply({ type: 'audio', samples24k: REPLY.slice(0, 25_200) });
  let hit = false;
  const cutter = (session: PeerSession, info: { sentMs: number }) => {
    if (!hit && info.sentMs >= 1050) {
      hit = true;
      peer.faults.refuseUpgrades(1000, { status: 503 });
      peer.faults.drop(session);
    }
  };
  peer.on('responseAudio', cutter);
  try {
    const report = await run([{ say: QUESTION }, { silenceMs: 4000 }, { hangup: true }]);
    assert.ok(hit, 'the fault fired');
    assert.ok(summaryOf(report).comfortFrames > 20, `comfort frames: ${summaryOf(report).comfortFrames}`);
  } finally {
    peer.off('responseAudio', cutter);
    peer.faults.clear();
  }
});

/**
 * A scripted AI server that confirms each session and writes `alongside(n)` (n: the session's number, from 1) in
 * the same write, so the bridge reads them in the same chunk as its session.updated.
 */
function upstreamConfirmingWith(alongside: (session: number) => object[]) {
  let sessions = 0;
  return startScriptedUpstream((ws) => {
    const n = ++sessions;
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type !== 'session.update') return;
      const tcp = (ws as unknown as { _socket: Socket })._socket;
      tcp.cork();
      ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
      for (const event of alongside(n)) ws.send(JSON.stringify(event));
      process.nextTick(() => tcp.uncork());
    });
  });
}

test('events a server writes together with its session.updated reach the call: a session_expired there rolls over', async () => {
  const expired = { type: 'error', error: { type: 'invalid_request_error', code: 'session_expired', message: 'Your session hit the maximum duration.' } };
  const upstream = await upstreamConfirmingWith((n) => (n === 1 ? [expired] : []));
  const b = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl }, { onCallEnded: (s) => summaries.push(s) });
  try {
    const { done } = placeCall([{ silenceMs: 1500 }, { hangup: true }], b.url);
    const report = await done;
    assert.equal(upstream.accepted(), 2, 'the session_expired read with the confirmation was acted on');
    await eventually(() => summaries.some((s) => s.callSid === report.callSid));
    assert.equal(summaryOf(report).rollovers, 1);
  } finally {
    await b.close();
    await upstream.close();
  }
});

test('a server that floods events with its session.updated: the excess past 64 is counted once as misbehaviour, and the session stays', async () => {
  const upstream = await upstreamConfirmingWith(() => Array.from({ length: 100 }, () => ({ type: 'rate_limits.updated', rate_limits: [] })));
  const b = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl }, { onCallEnded: (s) => summaries.push(s) });
  try {
    const report = await placeCall([{ silenceMs: 500 }, { hangup: true }], b.url).done;
    await eventually(() => summaries.some((s) => s.callSid === report.callSid));
    assert.equal(summaryOf(report).malformedUpstreamMessages, 1, 'one count for the flood, not one per event');
    assert.equal(upstream.accepted(), 1, 'not a reason to drop the session');
  } finally {
    await b.close();
    await upstream.close();
  }
});

test('a session configuration the server rejects is fatal: fallback at once, no retries', async () => {
  // A stand-in that answers every session.update with an error, as the service does for a bad voice or model.
  const upstream = await startScriptedUpstream((ws) =>
    ws.once('message', () => ws.send(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_value', message: 'voice' } }))),
  );
  const cfgBridge = await startBridge(
    { OPENAI_BASE_URL: upstream.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl },
    { onCallEnded: (s) => summaries.push(s) },
  );
  try {
    const { done } = placeCall([{ say: QUESTION }, { silenceMs: 2000 }, { hangup: true }], cfgBridge.url);
    const report = await done;
    assert.ok(twilioApi.updates.some((u) => u.callSid === report.callSid && u.twiml), 'handed to the fallback');
    assert.equal(upstream.accepted(), 1, 'never retried');
    assert.ok(cfgBridge.logs.some((l) => String(l.reason ?? '').includes('rejected the session configuration')), 'the reason is logged');
  } finally {
    await cfgBridge.close();
    await upstream.close();
  }
});
