// A call that ends while its AI session is still being set up: the connect
// under way is dropped at the step it is on (the token mint, the wait for the
// session's confirmation), so the ended call leaves nothing open on the AI
// service and its connect attempt is reported as abandoned, not as a failure.
// Through real sockets: the bridge, an AI server scripted to stall, and a
// Twilio side played by the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { ConnectAttempt } from '../src/upstream/realtime-link.js';
import { callSid, closed, eventually, openStream, postWebhook, startBridge, startMessage, stopMessage, webhookFields, type RunningBridge } from './support/bridge-harness.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

/** Far beyond what these tests wait: a connect that is not abandoned is still pending when they check. */
const SLOW_CONNECT = { UPSTREAM_CONNECT_TIMEOUT_MS: '30000' };

/** Starts a call, waits for `setupReached`, then Twilio ends the stream; resolves once the stream is closed. */
async function callEndingDuringSetup(bridge: RunningBridge, setupReached: () => boolean): Promise<string> {
  const sid = callSid();
  const hook = await postWebhook(bridge.url, webhookFields(sid));
  const opened = await openStream(bridge.url, hook.streamUrl!);
  assert.ok('ws' in opened);
  const ws: WebSocket = opened.ws;
  const done = closed(ws);
  ws.send(startMessage(sid));
  await eventually(setupReached, 3000, 'the connect to reach the stalled step');
  ws.send(stopMessage(sid));
  await done;
  return sid;
}

test('a call that ends while the AI has not confirmed its session closes that session at once', async () => {
  const sockets: WebSocket[] = [];
  const upstreamClosedAt: number[] = [];
  // Accepts the upgrade and reads session.update, but never confirms it.
  const upstream = await startScriptedUpstream((ws) => {
    sockets.push(ws);
    ws.on('close', () => upstreamClosedAt.push(Date.now()));
  });
  const attempts: ConnectAttempt[] = [];
  const bridge = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl, ...SLOW_CONNECT }, { onConnectAttempt: (_sid, a) => attempts.push(a) });
  try {
    await callEndingDuringSetup(bridge, () => sockets.length === 1);
    const endedAt = Date.now();
    await eventually(() => upstreamClosedAt.length === 1, 2000, "the AI server to see the session's socket close");
    assert.ok(upstreamClosedAt[0]! - endedAt < 1000, 'closed when the call ended, not at the connect timeout');
    await eventually(() => attempts.length === 1, 2000, 'the attempt to be reported');
    assert.equal(attempts[0]!.outcome, 'abandoned');
    assert.equal(upstream.accepted(), 1, 'no second attempt');
    assert.ok(!bridge.logs.some((l) => l.msg === 'AI connect attempt failed'), 'an abandoned connect is not logged as a failure');
  } finally {
    await bridge.close();
    await upstream.close();
  }
});

test('a call that ends while its token is being minted cancels the mint request and never opens a session', async () => {
  const mints: IncomingMessage[] = [];
  let mintAborted = false;
  let upgrades = 0;
  // The mint endpoint never answers; an upgrade would be counted.
  const server = createServer((req) => {
    mints.push(req);
    req.socket.on('close', () => (mintAborted = true));
  });
  server.on('upgrade', (_req, socket) => {
    upgrades++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const attempts: ConnectAttempt[] = [];
  const bridge = await startBridge({ OPENAI_BASE_URL: baseUrl, ...SLOW_CONNECT }, { onConnectAttempt: (_sid, a) => attempts.push(a) });
  try {
    await callEndingDuringSetup(bridge, () => mints.length === 1);
    await eventually(() => mintAborted, 2000, 'the mint request to be dropped');
    await eventually(() => attempts.length === 1, 2000, 'the attempt to be reported');
    assert.equal(attempts[0]!.outcome, 'abandoned');
    // Give a connect that carried on the time to reach the upgrade: it must not.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(upgrades, 0);
    assert.equal(mints.length, 1);
  } finally {
    await bridge.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
