// Peers that stop reading, through real sockets on loopback: a Twilio socket
// that never drains ends the call; an AI server that stops reading is
// replaced by a fresh session. Time is the bridge's injected clock, raced
// ahead, so seconds of stall take milliseconds here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import type { CallSummary } from '../src/call/call-session.js';
import { callSid, closed, eventually, mediaMessage, openStream, postWebhook, startBridge, startMessage, stopMessage, webhookFields, type RunningBridge } from './support/bridge-harness.js';
import { startScriptedUpstream, type ScriptedUpstream } from './support/scripted-upstream.js';

const SOFT_BACKLOG_BYTES = 64 * 1024;
const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

/** The TCP socket under a ws client: pausing it stops reading, as a stalled Twilio edge would. */
function tcpOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

/** An AI server that confirms the session and hands its socket to the test. */
async function scriptedAi(onReady: (ws: WebSocket) => void = () => {}): Promise<ScriptedUpstream> {
  return startScriptedUpstream((ws) => {
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type !== 'session.update') return;
      ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
      onReady(ws);
    });
  });
}

async function openCall(bridge: RunningBridge): Promise<{ sid: string; ws: WebSocket }> {
  const sid = callSid();
  const res = await postWebhook(bridge.url, webhookFields(sid));
  const opened = await openStream(bridge.url, res.streamUrl!);
  assert.ok('ws' in opened, 'upgrade accepted');
  opened.ws.send(startMessage(sid));
  return { sid, ws: opened.ws };
}

/** The bridge's end of the one Twilio socket open in this test. */
function bridgeSideOf(bridge: RunningBridge): WebSocket {
  const [socket] = bridge.app.websocketServer.clients;
  assert.ok(socket, 'the bridge holds the Twilio socket');
  return socket as unknown as WebSocket;
}

test('a Twilio socket that stops draining ends the call as overloaded, after the stall limit and not before', async () => {
  let clock = Date.now();
  const summaries: CallSummary[] = [];
  let ai: WebSocket | undefined;
  const upstream = await scriptedAi((ws) => (ai = ws));
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl, AUDIO_MODE: 'pcmu', MAX_OUTBOUND_LEAD_MS: '2000' }, { now: () => clock, onCallEnded: (s) => summaries.push(s) });
  try {
    const { ws } = await openCall(bridge);
    await eventually(() => ai !== undefined, 3000, 'the AI session');
    // Twilio stops reading; the AI keeps talking (more than real time) while the caller's frames keep coming.
    tcpOf(ws).pause();
    ai!.send(JSON.stringify({ type: 'response.created', response: { id: 'resp_1', status: 'in_progress' } }));
    // Loopback's kernel buffers take megabytes before ws queues anything: two seconds of clock per step, and a lead
    // that lets the pacer send them at once, fill them fast.
    const delta = Buffer.alloc(19_200, 0x55).toString('base64'); // 2.4 s of μ-law
    const bridgeSide = bridgeSideOf(bridge);
    for (let seq = 0; bridgeSide.bufferedAmount < SOFT_BACKLOG_BYTES; seq++) {
      assert.ok(seq < 2000, `the backlog never reached the soft limit (${bridgeSide.bufferedAmount} bytes)`);
      clock += 2000;
      ws.send(mediaMessage(seq));
      ai!.send(JSON.stringify({ type: 'response.output_audio.delta', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, delta }));
      await tick(5);
    }
    const backedUpAt = clock;

    // Backed up, but not yet for long: a network hiccup, not a dead peer. (The bridge may have seen the soft limit
    // crossed up to one 2 s step before this loop did, so the stall is 2.9 to 4.9 s old here.)
    await tick(300);
    clock = backedUpAt + 2900;
    await tick(300);
    assert.equal(summaries.length, 0, 'still up, seconds into the stall');
    assert.ok(bridgeSide.bufferedAmount >= SOFT_BACKLOG_BYTES, 'and still backed up');

    clock = backedUpAt + 6000;
    await eventually(() => summaries.length === 1, 2000, 'the call to end');
    const summary = summaries[0]!;
    assert.equal(summary.outcome, 'overloaded');
    assert.match(summary.reason, /Twilio socket not draining \(\d+ bytes queued for over 5 s\)/);
    assert.ok(summary.assistantAudioDroppedMs > 0, `queued assistant audio counted as dropped (${summary.assistantAudioDroppedMs} ms)`);
    const ended = bridge.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('call ended: Twilio socket not draining'));
    assert.equal(ended.length, 1, 'one log line says why');
    assert.equal(ended[0]!.level, 40, 'at warn');

    // Once Twilio reads again, the close frame behind the backlog says the bridge could not serve the call.
    const done = closed(ws);
    tcpOf(ws).resume();
    assert.equal((await done).code, 1011);
  } finally {
    await bridge.close();
    await upstream.close();
  }
});

test('an AI server that stops reading is replaced by a fresh session; the call goes on', async () => {
  let clock = Date.now();
  const summaries: CallSummary[] = [];
  let first: WebSocket | undefined;
  let appendsToSecond = 0;
  // The first session stops reading as soon as it is up; the second is healthy.
  const upstream = await scriptedAi((ws) => {
    if (first !== undefined) {
      ws.on('message', (data) => {
        if (String(data).includes('"input_audio_buffer.append"')) appendsToSecond++;
      });
      return;
    }
    first = ws;
    ws.pause();
  });
  const bridge = await startBridge(
    { OPENAI_BASE_URL: upstream.baseUrl, MAX_TWILIO_MESSAGES_PER_SECOND: '100000' },
    { now: () => clock, onCallEnded: (s) => summaries.push(s) },
  );
  try {
    const { sid, ws } = await openCall(bridge);
    await eventually(() => first !== undefined, 3000, 'the AI session');
    // Caller audio streams far faster than real time until the bridge notices the server is not reading.
    const replaced = () => bridge.logs.some((l) => l.msg === 'AI session lost; reconnecting' && l.reason === 'AI server stopped reading');
    let seq = 0;
    while (!replaced()) {
      assert.ok(seq < 100_000, 'the stalled server was never replaced');
      clock += 100;
      for (let i = 0; i < 50; i++) ws.send(mediaMessage(seq++));
      await tick();
    }
    await eventually(() => upstream.accepted() === 2, 3000, 'a second AI session');
    ws.send(mediaMessage(seq));
    await eventually(() => appendsToSecond > 0, 3000, "the caller's audio to reach the second session");
    assert.equal(summaries.length, 0, 'the call is still up');
    const done = closed(ws);
    ws.send(stopMessage(sid));
    assert.equal((await done).code, 1000);
    assert.equal(summaries[0]?.outcome, 'completed');
    assert.equal(summaries[0]?.reconnects, 1, 'the replacement counts as a reconnect');
  } finally {
    await bridge.close();
    await upstream.close();
  }
});
