// A call that ends while its AI session is still being set up: the connect
// under way is dropped at the step it is on (the token mint, the upgrade,
// the wait for the session's confirmation), so the ended call leaves nothing
// open on the AI service and its connect attempt is reported as abandoned,
// not as a failure
// (a hand-off to the fallback, where the AI failed the call, counts it as
// failed). Mostly through real sockets: the bridge, an AI server scripted to
// stall, and a Twilio side played by the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type WebSocket from 'ws';
import type { ConnectAttempt } from '../src/upstream/realtime-link.js';
import { callSid, closed, eventually, openStream, postWebhook, startBridge, startMessage, stopMessage, webhookFields, type RunningBridge } from './support/bridge-harness.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

/** Far beyond what these tests wait: a connect that is not abandoned is still pending when they check. */
const SLOW_CONNECT = { UPSTREAM_CONNECT_TIMEOUT_MS: '30000' };

/** Listens on a loopback port; resolves with the server's base URL. */
async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function shut(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

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
    assert.ok(upstreamClosedAt[0]! - endedAt < 10_000, 'closed when the call ended, not at the connect timeout');
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
  const baseUrl = await listen(server);
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
    await shut(server);
  }
});

test('a call that ends while the upgrade to the AI is unanswered drops that socket and opens nothing more', async () => {
  let upgradeDropped = false;
  let upgrades = 0;
  // Mints a token for any request; an upgrade request is read and held, never answered.
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value: 'ek_held', expires_at: Math.floor(Date.now() / 1000) + 60 }));
  });
  server.on('upgrade', (_req, socket) => {
    upgrades++;
    // The server side is half-open after the bridge hangs up (http servers allow it), so the end is the sign.
    socket.on('end', () => {
      upgradeDropped = true;
      socket.destroy();
    });
  });
  const baseUrl = await listen(server);
  const attempts: ConnectAttempt[] = [];
  const bridge = await startBridge({ OPENAI_BASE_URL: baseUrl, ...SLOW_CONNECT }, { onConnectAttempt: (_sid, a) => attempts.push(a) });
  try {
    await callEndingDuringSetup(bridge, () => upgrades === 1);
    const endedAt = Date.now();
    await eventually(() => upgradeDropped, 2000, 'the held upgrade to be dropped');
    assert.ok(Date.now() - endedAt < 10_000, 'dropped when the call ended, not at the connect timeout');
    await eventually(() => attempts.length === 1, 2000, 'the attempt to be reported');
    assert.equal(attempts[0]!.outcome, 'abandoned');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(upgrades, 1, 'no second attempt');
    assert.ok(!bridge.logs.some((l) => l.msg === 'AI connect attempt failed'));
  } finally {
    await bridge.close();
    await shut(server);
  }
});

test("the connector's steps stop when its signal aborts: the mint's span is abandoned, not failed, when the call ended", async () => {
  const { realtimeConnector } = await import('../src/upstream/connect.js');
  let mintsSeen = 0;
  const server = createServer(() => void mintsSeen++); // never answers
  const baseUrl = await listen(server);
  const connect = realtimeConnector({
    baseUrl,
    apiKey: 'sk-test',
    model: 'm',
    tokenTtlSeconds: 60,
    connectTimeoutMs: 30_000,
    audioMode: 'pcmu',
    instructions: 'x',
    voice: 'alloy',
    transcriptionModel: 't',
    turnDetection: { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 },
  });
  const ends: string[] = [];
  const observer = { tokenMint: () => ({ ok: () => ends.push('ok'), fail: (e: string) => ends.push(`fail ${e}`), abandoned: () => ends.push('abandoned') }) };
  const handlers = { onEvent: () => {}, onMalformed: () => {}, onClose: () => {} };
  try {
    for (const cause of ['call_ended', 'gave_up'] as const) {
      const abort = new AbortController();
      const attempt = connect(handlers, observer, abort.signal);
      await eventually(() => mintsSeen === (cause === 'call_ended' ? 1 : 2), 2000, 'the mint request');
      abort.abort(cause);
      await assert.rejects(attempt);
    }
    assert.deepEqual(ends, ['abandoned', 'fail transient'], 'a call that gave up on the AI counts the mint as failed');
  } finally {
    await shut(server);
  }
});

test('the link reports a connect cut short by the end of the call as abandoned, and by a hand-off as failed; a session that opens late is closed', async () => {
  const { RealtimeLink } = await import('../src/upstream/realtime-link.js');
  for (const cause of ['call_ended', 'gave_up'] as const) {
    const signals: AbortSignal[] = [];
    let resolveLate: ((c: never) => void) | undefined;
    const attempts: ConnectAttempt[] = [];
    const link = new RealtimeLink(
      {
        // A connector that ignores its signal and opens anyway, later.
        connect: (_h, _o, signal) => {
          signals.push(signal!);
          return new Promise((resolve) => (resolveLate = resolve as (c: never) => void));
        },
        now: () => Date.now(),
        rolloverAfterMs: 3_600_000,
      },
      {
        onEvent: () => {},
        onMalformed: () => {},
        onSessionReady: () => assert.fail('no session is handed to a closed link'),
        onSessionActive: () => {},
        onOutage: () => {},
        onFatal: () => {},
        onAttempt: (a) => attempts.push(a),
      },
    );
    link.start();
    link.close(cause);
    assert.equal(signals[0]!.aborted, true);
    assert.equal(signals[0]!.reason, cause);
    assert.deepEqual(attempts.map((a) => a.outcome), [cause === 'call_ended' ? 'abandoned' : 'transient']);
    let closedWith: string | undefined;
    resolveLate!({ close: (_code: number, reason: string) => (closedWith = reason), isOpen: true } as never);
    await eventually(() => closedWith !== undefined, 1000, 'the late session to be closed');
    assert.equal(closedWith, 'call ended');
    assert.equal(attempts.length, 1, 'reported once');
  }
});
