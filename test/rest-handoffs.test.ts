// The bridge's REST calls to Twilio on a live call (the agent's hang-up, the
// hand-off to the fallback) can be slow or fail. Through real sockets: the
// bridge, a scripted AI server, and a Twilio side played by the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type WebSocket from 'ws';
import type { CallControl } from '../src/twilio/call-control.js';
import { callSid, closed, eventually, watchLoopStalls, mediaMessage, openStream, postWebhook, startBridge, startMessage, webhookFields, type RunningBridge } from './support/bridge-harness.js';
import { startScriptedUpstream, type ScriptedUpstream } from './support/scripted-upstream.js';

/** An AI server that confirms the session and, 200 ms later, ends the call with the end_call tool. */
function agentThatHangsUp(): Promise<ScriptedUpstream> {
  return startScriptedUpstream((ws) =>
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type !== 'session.update') return;
      ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
      setTimeout(() => {
        ws.send(JSON.stringify({ type: 'response.created', response: { id: 'r1' } }));
        ws.send(JSON.stringify({ type: 'response.function_call_arguments.done', response_id: 'r1', item_id: 'i1', call_id: 'c1', name: 'end_call', arguments: '{}' }));
        ws.send(JSON.stringify({ type: 'response.done', response: { id: 'r1', status: 'completed' } }));
      }, 200);
    }),
  );
}

/** Places a call and streams caller media until the bridge closes the stream; what Twilio saw. */
async function runCall(bridge: RunningBridge): Promise<{ code: number; reason: string; mediaAt: number[]; closedAt: number }> {
  const sid = callSid();
  const hook = await postWebhook(bridge.url, webhookFields(sid));
  const opened = await openStream(bridge.url, hook.streamUrl!);
  assert.ok('ws' in opened);
  const ws: WebSocket = opened.ws;
  const mediaAt: number[] = [];
  ws.on('message', (data) => {
    if ((JSON.parse(String(data)) as { event: string }).event === 'media') mediaAt.push(Date.now());
  });
  const done = closed(ws);
  ws.send(startMessage(sid));
  let n = 0;
  const frames = setInterval(() => ws.readyState === ws.OPEN && ws.send(mediaMessage(n++)), 20);
  const { code, reason } = await done;
  clearInterval(frames);
  return { code, reason, mediaAt, closedAt: Date.now() };
}

test("the agent's hang-up is retried when Twilio's API fails, rather than closing the stream into the fallback", async () => {
  const upstream = await agentThatHangsUp();
  const hangups: number[] = [];
  const callControl: CallControl = {
    redirect: async () => assert.fail('no hand-off expected'),
    hangup: async () => {
      hangups.push(Date.now());
      if (hangups.length < 3) throw new Error('HTTP 503');
      return true;
    },
  };
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl }, { callControl });
  try {
    const result = await runCall(bridge);
    assert.equal(hangups.length, 3, 'two failures, then the hang-up went through');
    assert.equal(result.code, 1000);
    assert.ok(result.closedAt >= hangups[2]!, 'the stream closed only once the call was hung up');
    assert.ok(bridge.logs.some((l) => l.msg === 'REST hang-up failed; retrying'));
  } finally {
    await bridge.close();
    await upstream.close();
  }
});

test('a hang-up that keeps failing is given up after three tries, and the stream is closed', async () => {
  const upstream = await agentThatHangsUp();
  let hangups = 0;
  const callControl: CallControl = {
    redirect: async () => assert.fail('no hand-off expected'),
    hangup: async () => {
      hangups++;
      throw new Error('HTTP 503');
    },
  };
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl }, { callControl });
  try {
    const result = await runCall(bridge);
    assert.equal(hangups, 3);
    assert.equal(result.code, 1000);
    assert.ok(bridge.logs.some((l) => l.msg === 'REST hang-up failed; closing the stream (Twilio then runs the TwiML after <Connect>)'));
  } finally {
    await bridge.close();
    await upstream.close();
  }
});

test('while a hand-off waits on a slow REST request the caller hears comfort audio, not dead air', async () => {
  // The AI is down for good: the outage budget runs out and the call is handed off; the redirect takes 1.5 s.
  const upstream = await startScriptedUpstream((ws) => ws.close(1011, 'overloaded'));
  let redirectAt = 0;
  const callControl: CallControl = {
    redirect: () =>
      new Promise<boolean>((_resolve, reject) => {
        redirectAt = Date.now();
        setTimeout(() => reject(new Error('timeout')), 1500);
      }),
    hangup: async () => true,
  };
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl, OUTAGE_BUDGET_MS: '1000', COMFORT_AUDIO_AFTER_MS: '100' }, { callControl });
  const stalls = watchLoopStalls();
  try {
    const result = await runCall(bridge);
    await eventually(() => redirectAt > 0);
    const during = result.mediaAt.filter((t) => t >= redirectAt);
    assert.ok(during.length >= 50, `comfort audio went on during the 1.5 s redirect (${during.length} frames)`);
    const lastGap = result.closedAt - Math.max(...result.mediaAt);
    // A comfort frame every 20 ms; a stalled loop delays the last one and the close alike.
    assert.ok(lastGap < 300 + stalls.maxMs(), `no dead air before the stream closed (${lastGap} ms, loop stalled up to ${stalls.maxMs().toFixed(0)} ms)`);
  } finally {
    stalls.stop();
    await bridge.close();
    await upstream.close();
  }
});
