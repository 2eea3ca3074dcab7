// A realtime session that stays connected but stops answering (the peer's
// 'wedge' fault: pongs, VAD and commits go on, no response ever starts),
// through real sockets: the bridge notices the missing reply, replaces the
// session with the unanswered turn, and gives up to the fallback if the
// fresh session is no better. The keepalive cannot catch this: the socket
// is healthy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readWav } from '../src/audio/wav.js';
import { SimulatedCall, type CallReport, type CallStep } from '../src/devtools/call-simulator/index.js';
import { startRealtimePeer, type PeerSession, type RealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { TwilioApiStandIn } from '../src/devtools/twilio-api/twilio-api-stand-in.js';
import { ACCOUNT_SID, API_KEY, AUTH_TOKEN, PUBLIC_URL, eventually, startBridge, type RunningBridge } from './support/bridge-harness.js';
import type { CallSummary } from '../src/call/call-session.js';
import type WebSocket from 'ws';
import { callSid as newCallSid, openStream, postWebhook, startMessage, webhookFields } from './support/bridge-harness.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

const QUESTION = 'fixtures/caller-question.wav';
const QUESTION_MS = (readWav(QUESTION).samples.length / readWav(QUESTION).sampleRate) * 1000;
const REPLY = readWav('fixtures/assistant-reply.wav').samples.slice(0, 24_000); // 1 s
const REPLY_TIMEOUT_MS = 1000;
const TRANSCRIPT = 'What time do you open on Saturday?';

let peer: RealtimePeer;
let twilioApi: TwilioApiStandIn;
let bridge: RunningBridge;
const summaries: CallSummary[] = [];
const calls = new Map<string, SimulatedCall>();

before(async () => {
  peer = await startRealtimePeer({
    apiKey: API_KEY,
    reply: () => ({ type: 'audio', samples24k: REPLY, transcript: 'We open at nine.' }),
    userTranscript: TRANSCRIPT,
    vad: { silenceDurationMsOverride: 300 },
  });
  twilioApi = await TwilioApiStandIn.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  bridge = await startBridge(
    { OPENAI_BASE_URL: peer.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl, AI_REPLY_TIMEOUT_MS: String(REPLY_TIMEOUT_MS) },
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

async function run(script: CallStep[], target: RunningBridge = bridge): Promise<{ report: CallReport; summary: CallSummary; sessions: PeerSession[] }> {
  const first = peer.sessions.length;
  const callSid = 'CA' + randomBytes(16).toString('hex');
  const call = new SimulatedCall({ bridgeUrl: target.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, callSid, script });
  calls.set(callSid, call);
  const report = await call.run();
  await eventually(() => summaries.some((s) => s.callSid === callSid));
  // Tests in this file run one at a time, so the sessions opened since `first` are this call's.
  return { report, summary: summaries.find((s) => s.callSid === callSid)!, sessions: peer.sessions.slice(first) };
}

const askAndWait: CallStep[] = [{ say: QUESTION }, { waitFor: 'assistantDone', idleMs: 300, timeoutMs: 10_000 }, { hangup: true }];

test('a session that takes the turn and never replies is replaced; without a transcript the new one hears the utterance again', async () => {
  const wedged = peer.faults.wedgeNext({ when: 'speech' });
  const { report, summary, sessions } = await run(askAndWait);
  await wedged;
  assert.equal(sessions.length, 2, 'one replacement');
  const [old, fresh] = sessions as [PeerSession, PeerSession];
  // The old session took the turn (committed it) and never answered; the bridge closed it.
  assert.equal(old.sentOfType('input_audio_buffer.committed').length, 1);
  assert.equal(old.sentOfType('response.created').length, 0);
  assert.equal(old.closed?.by, 'client');
  // No transcript came, so no text of the turn could be replayed: the utterance itself went again.
  assert.equal(old.sentOfType('conversation.item.input_audio_transcription.completed').length, 0);
  assert.ok(summary.callerAudioResentMs >= QUESTION_MS - 100, `resent ${summary.callerAudioResentMs} ms for a ${Math.round(QUESTION_MS)} ms question`);
  assert.equal(fresh.receivedOfType('response.create').length, 0, 'the new session answers the resent turn by its own VAD');
  assert.equal(fresh.sentOfType('input_audio_buffer.speech_started').length, 1, 'the new session heard the question');
  assert.equal(fresh.sentOfType('response.created').length, 1);
  // The caller heard one answer, after about the timeout, and nothing else went wrong.
  assert.equal(report.latenciesMs.length, 1, 'the caller got an answer');
  assert.ok(report.latenciesMs[0]! >= REPLY_TIMEOUT_MS, `answer after ${report.latenciesMs[0]} ms`);
  assert.ok(report.latenciesMs[0]! < REPLY_TIMEOUT_MS + 2500, `answer after ${report.latenciesMs[0]} ms`);
  assert.deepEqual(report.violations, []);
  assert.equal(summary.replyTimeouts, 1);
  assert.equal(summary.reconnects, 1);
  assert.equal(summary.outcome, 'completed');
  assert.equal(twilioApi.updates.filter((u) => u.callSid === summary.callSid).length, 0, 'no fallback');
});

test('with the turn transcribed, the new session gets it as text and is asked for the answer once; the audio is not sent twice', async () => {
  const wedged = peer.faults.wedgeNext({ when: 'speech', transcribe: true });
  const { report, summary, sessions } = await run(askAndWait);
  await wedged;
  assert.equal(sessions.length, 2);
  const [old, fresh] = sessions as [PeerSession, PeerSession];
  assert.equal(old.sentOfType('conversation.item.input_audio_transcription.completed').length, 1);
  const replayed = fresh.receivedOfType('conversation.item.create').map((e) => e.item as { role?: string; content?: { text?: string }[] });
  assert.deepEqual(
    replayed.map((i) => [i.role, i.content?.[0]?.text]),
    [['user', TRANSCRIPT]],
  );
  assert.equal(fresh.receivedOfType('response.create').length, 1);
  assert.equal(fresh.sentOfType('input_audio_buffer.speech_started').length, 0, 'the question was not resent as audio');
  assert.ok(summary.callerAudioResentMs < QUESTION_MS / 2, `resent only the tail after the commit: ${summary.callerAudioResentMs} ms`);
  assert.equal(report.latenciesMs.length, 1);
  assert.deepEqual(report.violations, []);
  assert.equal(summary.replyTimeouts, 1);
});

test('a fresh session that misses the reply too hands the call to the fallback instead of more silence', async () => {
  // The second wedge fires on the fresh session, when it hears the resent question.
  const first = peer.faults.wedgeNext({ when: 'speech' });
  const second = peer.faults.wedgeNext({ when: 'speech' });
  const { report, summary, sessions } = await run([{ say: QUESTION }, { silenceMs: 8000 }, { hangup: true }]);
  await Promise.all([first, second]);
  assert.equal(sessions.length, 2, 'replaced once, then given up');
  assert.equal(summary.replyTimeouts, 2);
  assert.equal(summary.outcome, 'fallback');
  assert.equal(report.endReason, 'Twilio: TwiML replaced');
  const update = twilioApi.updates.find((u) => u.callSid === summary.callSid);
  assert.ok(update?.twiml?.includes('<Say>'), 'handed to the fallback TwiML');
  const handOff = bridge.logs.find((l) => l.msg === 'handing the call to the fallback' && l.callSid === summary.callSid);
  assert.match(String(handOff?.reason), /did not reply within 1 s, twice in a row/);
});

test('a caller who speaks again while waiting does not keep a stuck session alive', async () => {
  // A timeout of its own, so that both sides of the race below have room for a stalled loop on a loaded machine.
  const slower = await startBridge(
    { OPENAI_BASE_URL: peer.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl, AI_REPLY_TIMEOUT_MS: '2000' },
    { onCallEnded: (s) => summaries.push(s) },
  );
  const wedged = peer.faults.wedgeNext({ when: 'speech' });
  // The caller asks three times. Between tries the line is quiet ~950 ms (the recording's own trailing and
  // leading silence) plus 620 ms, of which the service's VAD takes 300 ms to end the turn and 60 ms to start
  // the next: each wait (~1330 ms) is shorter than the 2 s timeout, two together are longer, by ~670 ms either
  // way. The wait resumes where it stopped, so the session is replaced during the second wait, before the third
  // try begins.
  const { report, summary, sessions } = await run(
    [
      { say: QUESTION },
      { silenceMs: 620 },
      { say: QUESTION },
      { silenceMs: 620 },
      { say: QUESTION },
      { waitFor: 'assistantDone', idleMs: 300, timeoutMs: 10_000 },
      { hangup: true },
    ],
    slower,
  ).finally(() => slower.close());
  await wedged;
  assert.equal(sessions.length, 2);
  assert.equal(sessions[0]!.sentOfType('input_audio_buffer.speech_started').length, 2, 'replaced before the third try');
  assert.equal(summary.replyTimeouts, 1);
  assert.ok(report.latenciesMs.length >= 1, 'the caller got an answer');
});

test('a session that answers in time is never replaced', async () => {
  const { report, summary, sessions } = await run([
    { say: QUESTION },
    { waitFor: 'assistantDone', idleMs: 300 },
    { say: QUESTION },
    { waitFor: 'assistantDone', idleMs: 300 },
    { silenceMs: 2 * REPLY_TIMEOUT_MS },
    { hangup: true },
  ]);
  assert.equal(sessions.length, 1);
  assert.equal(summary.replyTimeouts, 0);
  assert.equal(report.latenciesMs.length, 2);
});

test('a tool output is answered by a response asked for only once the response that called the tool is done', async () => {
  // The service refuses response.create while a response is active, and function_call_arguments.done comes
  // before that response's response.done: this server leaves a gap between them to show the order.
  const received: string[] = [];
  let ai: WebSocket | undefined;
  const upstream = await startScriptedUpstream((ws) => {
    ws.on('message', (data) => {
      const type = (JSON.parse(String(data)) as { type: string }).type;
      received.push(type);
      if (type === 'session.update') {
        ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
        ai = ws;
      }
    });
  });
  const tool = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl });
  try {
    const sid = newCallSid();
    const res = await postWebhook(tool.url, webhookFields(sid));
    const opened = await openStream(tool.url, res.streamUrl!);
    assert.ok('ws' in opened);
    opened.ws.send(startMessage(sid));
    await eventually(() => ai !== undefined, 3000, 'the AI session');
    ai!.send(JSON.stringify({ type: 'response.created', response: { id: 'resp_1', status: 'in_progress' } }));
    ai!.send(
      JSON.stringify({ type: 'response.function_call_arguments.done', response_id: 'resp_1', item_id: 'item_1', output_index: 0, call_id: 'call_1', name: 'lookup_hours', arguments: '{}' }),
    );
    await eventually(() => received.includes('conversation.item.create'), 3000, 'the tool output');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received.filter((t) => t === 'response.create').length, 0, 'no response.create while the tool call response is active');
    ai!.send(JSON.stringify({ type: 'response.done', response: { id: 'resp_1', status: 'completed', output: [] } }));
    await eventually(() => received.includes('response.create'), 3000, 'the answer asked for');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(received.filter((t) => t === 'response.create').length, 1, 'asked once');
    opened.ws.close();
  } finally {
    await tool.close();
    await upstream.close();
  }
});
