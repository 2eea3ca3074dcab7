// Admission control and abuse limits, through real sockets on loopback.
// Distinct client addresses come from binding to other 127.0.0.0/8 addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import twilio from 'twilio';
import { WebSocket } from 'ws';
import { AuthFailureLimiter } from '../src/admission/auth-failure-limiter.js';
import { ConnectionGate } from '../src/admission/connection-gate.js';
import { admitCall } from '../src/admission/admission-control.js';
import { clientKey, UNPARSEABLE_ADDRESS_KEY } from '../src/admission/client-key.js';
import { LoopDelayWindow } from '../src/admission/loop-delay-window.js';
import { MessageRateLimit } from '../src/call/message-rate-limit.js';
import type { UpstreamConnector } from '../src/upstream/connect.js';
import { METRIC } from '../src/telemetry/metrics.js';
import { memoryMetrics, points } from './support/memory-metrics.js';
import {
  AUTH_TOKEN,
  PUBLIC_URL,
  callSid,
  closed,
  mediaMessage,
  openStream,
  postWebhook,
  startBridge,
  startMessage,
  webhookFields,
} from './support/bridge-harness.js';

const pendingUpstream: UpstreamConnector = () => new Promise(() => {});

/** POSTs a webhook from a chosen loopback source address. */
function webhookFrom(bridgeUrl: string, localAddress: string, fields: Record<string, string>, signature: string): Promise<{ status: number; body: string }> {
  const url = new URL(`${bridgeUrl}/twilio/voice`);
  const body = new URLSearchParams(fields).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('admission: past MAX_CALLS a new caller gets the fallback TwiML (never a 5xx) and readyz says full', async () => {
  const bridge = await startBridge({ MAX_CALLS: '1' }, { connectUpstream: pendingUpstream });
  try {
    const first = await postWebhook(bridge.url, webhookFields(callSid()));
    const opened = await openStream(bridge.url, first.streamUrl!);
    assert.ok('ws' in opened, 'the first call is admitted');
    const second = await postWebhook(bridge.url, webhookFields(callSid()));
    assert.equal(second.status, 200);
    assert.ok(!second.body.includes('<Stream'), 'no stream for a call over the cap');
    assert.match(second.body, /<Response><Say>/);
    const ready = await fetch(`${bridge.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'full', reason: 'max_calls', calls: 1 });
    opened.ws.close();
  } finally {
    await bridge.close();
  }
});

test('admission: webhooks arriving together cannot overrun MAX_CALLS; a place is held until the stream opens or its ticket expires', async () => {
  let clock = Date.now();
  const bridge = await startBridge({ MAX_CALLS: '2', STREAM_TICKET_TTL_SECONDS: '10' }, { connectUpstream: pendingUpstream, now: () => clock });
  try {
    // Eight calls ring at once: every webhook is in flight before any stream opens.
    const answers = await Promise.all(Array.from({ length: 8 }, () => postWebhook(bridge.url, webhookFields(callSid()))));
    assert.ok(answers.every((a) => a.status === 200), 'every caller got TwiML');
    const admitted = answers.filter((a) => a.streamUrl !== undefined);
    assert.equal(admitted.length, 2, 'exactly MAX_CALLS callers were given a stream');
    assert.equal((await fetch(`${bridge.url}/readyz`)).status, 503, 'full while two admitted calls have not yet connected');
    // One stream opens: it is now a live call, and the other still holds its place.
    const opened = await openStream(bridge.url, admitted[0]!.streamUrl!);
    assert.ok('ws' in opened);
    assert.ok(!(await postWebhook(bridge.url, webhookFields(callSid()))).body.includes('<Stream'), 'still full');
    // The other never connects: once its ticket has expired, its place is free again.
    clock += 10_001;
    const later = await postWebhook(bridge.url, webhookFields(callSid()));
    assert.ok(later.streamUrl !== undefined, 'the expired place went to a new caller');
    opened.ws.close();
  } finally {
    await bridge.close();
  }
});

test('admission: a lagging event loop turns new calls away until it recovers', async () => {
  let lag = 120;
  const bridge = await startBridge({ MAX_EVENT_LOOP_DELAY_MS: '50' }, { connectUpstream: pendingUpstream, loopDelayP99Ms: () => lag });
  try {
    const refused = await postWebhook(bridge.url, webhookFields(callSid()));
    assert.ok(!refused.body.includes('<Stream'));
    assert.equal((await fetch(`${bridge.url}/readyz`)).status, 503);
    lag = 5;
    const admitted = await postWebhook(bridge.url, webhookFields(callSid()));
    assert.ok(admitted.body.includes('<Stream'));
    assert.equal((await fetch(`${bridge.url}/readyz`)).status, 200);
  } finally {
    await bridge.close();
  }
});

test('abuse: an address past the auth-failure limit is refused at once; other addresses are not', async () => {
  const telemetry = memoryMetrics();
  const bridge = await startBridge({ AUTH_FAILURES_PER_MINUTE: '5', AUTH_BLOCK_SECONDS: '60' }, { connectUpstream: pendingUpstream, metrics: telemetry.bridge });
  try {
    const fields = webhookFields(callSid());
    const good = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice`, fields);
    for (let i = 0; i < 6; i++) assert.equal((await webhookFrom(bridge.url, '127.0.0.7', fields, 'bad')).status, 403);
    // Unsigned requests from the blocked address are refused at once.
    assert.equal((await webhookFrom(bridge.url, '127.0.0.7', fields, '')).status, 429);
    // A correctly signed request from it is still served: Twilio's addresses are shared by all its customers.
    assert.equal((await webhookFrom(bridge.url, '127.0.0.7', fields, good)).status, 200);
    // Health probes are never refused.
    assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200);
    assert.ok(bridge.logs.some((l) => l.msg === 'blocking unsigned requests from an address after repeated authentication failures' && l.ip === '127.0.0.7'), 'the block is logged');
    // Another address is unaffected.
    assert.equal((await webhookFrom(bridge.url, '127.0.0.8', fields, good)).status, 200);

    // Any signature header gets a blocked address checked, but a failed check is a bare 429: it cannot buy a log
    // line (or a span) per request.
    const linesBefore = bridge.logs.length;
    for (let i = 0; i < 20; i++) assert.equal((await webhookFrom(bridge.url, '127.0.0.7', fields, 'x')).status, 429);
    // (The test bridge logs at debug level; only debug lines may appear, and production runs at info.)
    assert.deepEqual(bridge.logs.slice(linesBefore).filter((l) => (l.level as number) >= 30), [], 'no log line per refused request');
    const m = await telemetry.collect();
    assert.deepEqual(points(m.get(METRIC.authBlocks)), [{ attributes: {}, value: 1 }], 'one block');
    const refusals = points(m.get(METRIC.refusals)).map((p) => [p.attributes['bridge.refusal.surface'], p.attributes['bridge.refusal.reason'], p.value]);
    assert.deepEqual(refusals, [['http', 'blocked_ip', 21]], 'the unsigned request and the 20 failed ones, each counted');
  } finally {
    await bridge.close();
    await telemetry.done();
  }
});

test('abuse: failed upgrades count toward the block too, and a blocked address gets a bare 429 on upgrade', async () => {
  const bridge = await startBridge({ AUTH_FAILURES_PER_MINUTE: '5', AUTH_BLOCK_SECONDS: '60' }, { connectUpstream: pendingUpstream });
  const upgrade = (signature: string | null, ticket = 'no-such-ticket') =>
    new Promise<number>((resolve, reject) => {
      const headers: Record<string, string> = signature === null ? {} : { 'x-twilio-signature': signature };
      const ws = new WebSocket(`${bridge.url.replace(/^http/, 'ws')}/twilio/stream/${ticket}`, { headers, localAddress: '127.0.0.11' });
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        ws.terminate();
      });
      ws.once('open', () => reject(new Error('upgrade accepted')));
      // terminate() after the refusal reports an error of its own; the promise has settled by then.
      ws.on('error', reject);
    });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await upgrade('bad'));
    assert.deepEqual(statuses, [403, 403, 403, 403, 403, 403], 'failed signatures are refused');
    assert.ok(bridge.logs.some((l) => l.msg === 'blocking unsigned requests from an address after repeated authentication failures' && l.ip === '127.0.0.11'));
    assert.equal(await upgrade('bad'), 429, 'a failed check from a blocked address');
    assert.equal(await upgrade(null), 429, 'an unsigned upgrade from a blocked address');
    // A correctly signed call from the same address is still served (Twilio's addresses are shared).
    const fields = webhookFields(callSid());
    const good = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice`, fields);
    assert.equal((await webhookFrom(bridge.url, '127.0.0.11', fields, good)).status, 200);
  } finally {
    // Also the regression check: a refused upgrade's socket must not keep the server from closing.
    await bridge.close();
  }
});

test('abuse: unauthenticated sockets are capped per address; an accepted stream frees its slot', async () => {
  const telemetry = memoryMetrics();
  const bridge = await startBridge({ MAX_UNAUTHENTICATED_SOCKETS_PER_IP: '3' }, { connectUpstream: pendingUpstream, metrics: telemetry.bridge });
  const idle: ReturnType<typeof connect>[] = [];
  try {
    const port = bridge.port;
    // A socket that should stay is given 300 ms to be cut; one that should be cut is waited for far longer, as a
    // loaded machine can take its time to read the close.
    const open = (waitMs = 300) =>
      new Promise<{ closedQuickly: boolean }>((resolve) => {
        const s = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.9' });
        idle.push(s);
        let done = false;
        s.on('close', () => !done && ((done = true), resolve({ closedQuickly: true })));
        s.on('error', () => {});
        setTimeout(() => !done && ((done = true), resolve({ closedQuickly: false })), waitMs);
      });
    const results = [await open(), await open(), await open(), await open(5000)];
    assert.deepEqual(results.map((r) => r.closedQuickly), [false, false, false, true], 'the fourth idle socket is cut');
    assert.equal(bridge.logs.filter((l) => l.msg === 'cutting new sockets: the cap on unauthenticated sockets is reached').length, 1, 'the cut is logged');
    const refusals = points((await telemetry.collect()).get(METRIC.refusals)).map((p) => [p.attributes['bridge.refusal.reason'], p.value]);
    assert.deepEqual(refusals, [['unauthenticated_socket_cap', 1]], 'and counted');
    // Other addresses (here 127.0.0.1) still get in, and an accepted stream does not count against its address.
    const res = await postWebhook(bridge.url, webhookFields(callSid()));
    assert.equal(res.status, 200);
  } finally {
    for (const s of idle) s.destroy();
    await telemetry.done();
    await bridge.close();
  }
});

test('abuse behind a trusted proxy: the per-address cap counts client addresses per request, not the proxy\'s sockets', async () => {
  const bridge = await startBridge({ TRUST_PROXY: '1', MAX_UNAUTHENTICATED_SOCKETS_PER_IP: '3' }, { connectUpstream: pendingUpstream });
  const sockets: ReturnType<typeof connect>[] = [];
  /** A raw socket from the proxy (127.0.0.1); with `forwardedFor`, it starts a webhook and holds back its body. */
  const open = (forwardedFor?: string) =>
    new Promise<ReturnType<typeof connect>>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: bridge.port }, () => resolve(s));
      s.on('error', () => {});
      sockets.push(s);
      if (forwardedFor !== undefined) {
        s.write(`POST /twilio/voice HTTP/1.1\r\nhost: x\r\nx-forwarded-for: ${forwardedFor}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\n`);
      }
    });
  const signedFrom = async (forwardedFor: string) => {
    const fields = webhookFields(callSid());
    const res = await fetch(`${bridge.url}/twilio/voice`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': forwardedFor,
        'x-twilio-signature': twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice`, fields),
      },
      body: new URLSearchParams(fields).toString(),
    });
    await res.text();
    return res.status;
  };
  try {
    // The proxy's idle keep-alive sockets are not capped per address: they are everyone's.
    for (let i = 0; i < 5; i++) await open();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(sockets.every((s) => !s.destroyed), 'no proxy socket was cut');
    assert.equal(await signedFrom('203.0.113.9'), 200, 'a signed webhook gets through');
    // One client address with three requests in flight is at its cap; others are not.
    for (let i = 0; i < 3; i++) await open('203.0.113.7');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await signedFrom('203.0.113.7'), 429, 'a fourth request from the same client address');
    assert.equal(await signedFrom('203.0.113.8'), 200, 'another client address');
    // The held requests are abandoned: their places are free again.
    for (const s of sockets.splice(5)) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await signedFrom('203.0.113.7'), 200, 'released when the client gave up');
  } finally {
    for (const s of sockets) s.destroy();
    await bridge.close();
  }
});

test('the loop-delay window sees a blocked event loop, and forgets it once the window has passed', async () => {
  // Half-windows of 500 ms: a loaded CI machine can delay the checks below by
  // hundreds of ms, so every wait is measured from the stall, not assumed.
  const window = new LoopDelayWindow(1000);
  try {
    await new Promise((r) => setTimeout(r, 50));
    const idle = window.p99Ms;
    const until = performance.now() + 150;
    while (performance.now() < until) {
      // a synchronous stall, as a slow handler or a long GC would cause
    }
    const stallEnd = performance.now();
    // The monitor records the late tick in the next timers phase; the figure
    // then holds until the second half-window boundary after it, >= 500 ms on.
    await new Promise((r) => setTimeout(r, 20));
    const seenAfter = performance.now() - stallEnd;
    assert.ok(
      window.p99Ms >= 100,
      `a 150 ms stall shows (p99 ${window.p99Ms.toFixed(1)} ms, idle ${idle.toFixed(1)} ms, read ${seenAfter.toFixed(0)} ms after it)`,
    );
    // Two half-windows after the stall's own has ended, it is gone.
    const goneBy = stallEnd + 1000 + 100;
    await new Promise((r) => setTimeout(r, Math.max(0, goneBy - performance.now())));
    assert.ok(window.p99Ms < 100, `a window later it is gone (p99 ${window.p99Ms.toFixed(1)} ms)`);
  } finally {
    window.stop();
  }
});

test('abuse: unauthenticated sockets are capped in total, whatever their addresses', async () => {
  const bridge = await startBridge({ MAX_UNAUTHENTICATED_SOCKETS: '3' }, { connectUpstream: pendingUpstream });
  const sockets: ReturnType<typeof connect>[] = [];
  try {
    // 300 ms for a socket that should stay; one that should be cut is waited for far longer.
    const open = (localAddress: string, waitMs = 300) =>
      new Promise<boolean>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: bridge.port, localAddress });
        sockets.push(s);
        s.on('error', () => {});
        s.on('close', () => resolve(true));
        setTimeout(() => resolve(false), waitMs);
      });
    const cut = [await open('127.0.0.21'), await open('127.0.0.22'), await open('127.0.0.23'), await open('127.0.0.24', 5000)];
    assert.deepEqual(cut, [false, false, false, true], 'the fourth socket is cut though its address had none');
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await postWebhook(bridge.url, webhookFields(callSid()))).status, 200, 'closed sockets free their places');
  } finally {
    for (const s of sockets) s.destroy();
    await bridge.close();
  }
});

test('a stream over the message-rate cap is closed 1008; a stream with no media is ended by the idle timeout', async () => {
  const bridge = await startBridge({ MAX_TWILIO_MESSAGES_PER_SECOND: '150', MEDIA_IDLE_TIMEOUT_MS: '1000' }, { connectUpstream: pendingUpstream });
  try {
    const sid = callSid();
    const hot = await postWebhook(bridge.url, webhookFields(sid));
    const a = await openStream(bridge.url, hot.streamUrl!);
    assert.ok('ws' in a);
    const aClosed = closed(a.ws);
    a.ws.send(startMessage(sid));
    for (let i = 0; i < 500; i++) a.ws.send(mediaMessage(i));
    const rate = await aClosed;
    assert.equal(rate.code, 1008);
    assert.match(rate.reason, /rate/);

    const sid2 = callSid();
    const quiet = await postWebhook(bridge.url, webhookFields(sid2));
    // The idle clock starts at the bridge's side of the upgrade, before openStream returns here.
    const t0 = Date.now();
    const b = await openStream(bridge.url, quiet.streamUrl!);
    assert.ok('ws' in b);
    const bClosed = closed(b.ws);
    b.ws.send(startMessage(sid2));
    const idle = await bClosed;
    assert.equal(idle.code, 1000);
    assert.match(idle.reason, /no media/);
    assert.ok(Date.now() - t0 >= 900);
  } finally {
    await bridge.close();
  }
});

test('client keys: IPv4 as is, IPv4-mapped unwrapped, IPv6 by /64', () => {
  assert.equal(clientKey('203.0.113.9'), '203.0.113.9');
  assert.equal(clientKey('::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::5'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
});

test('client keys: a port some proxies add is dropped; anything that is not an address shares one key', () => {
  assert.equal(clientKey('203.0.113.7:40001'), '203.0.113.7');
  assert.equal(clientKey('203.0.113.7:40002'), '203.0.113.7', 'every source port is the same client');
  assert.equal(clientKey('[2001:db8:1:2::9]:443'), '2001:db8:1:2::/64');
  assert.equal(clientKey('[2001:db8:1:2::9]'), '2001:db8:1:2::/64');
  assert.equal(clientKey('unknown'), UNPARSEABLE_ADDRESS_KEY);
  assert.equal(clientKey('999.1.1.1:80'), UNPARSEABLE_ADDRESS_KEY);
  assert.equal(clientKey(''), UNPARSEABLE_ADDRESS_KEY);
});

test('abuse: a flood of new addresses cannot push a blocked one out of the limiter', () => {
  const limiter = new AuthFailureLimiter({ maxFailures: 1, windowMs: 60_000, cooldownMs: 300_000, maxTrackedIps: 3 });
  limiter.recordFailure('attacker', 0);
  assert.equal(limiter.recordFailure('attacker', 1), true);
  for (let i = 0; i < 100; i++) limiter.recordFailure(`rotating-${i}`, 10 + i);
  assert.equal(limiter.trackedIps, 3, 'memory stays bounded');
  assert.ok(limiter.isBlocked('attacker', 200), 'the block holds');
  assert.ok(!limiter.isBlocked('attacker', 300_002), 'and ends with its cool-down');
});

test('abuse: a request whose target is a full URL fails its signature check and counts (never a 500)', async () => {
  // An explicit port in PUBLIC_URL made the URL built from such a target unparseable, and the check threw.
  const bridge = await startBridge({ PUBLIC_URL: 'https://voice.example.com:8443', AUTH_FAILURES_PER_MINUTE: '2' }, { connectUpstream: pendingUpstream });
  const raw = (text: string) =>
    new Promise<string>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: bridge.port }, () => s.write(text));
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.on('error', () => {});
      s.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
    });
  try {
    const hook = 'POST http://x/twilio/voice HTTP/1.1\r\nhost: x\r\nx-twilio-signature: forged\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 3\r\nconnection: close\r\n\r\na=b';
    assert.match(await raw(hook), / 403 /);
    const upgrade =
      'GET http://x/twilio/stream/AAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-twilio-signature: forged\r\n\r\n';
    assert.match(await raw(upgrade), / 403 /);
    assert.match(await raw(hook), / 403 /, 'the third failure within a minute is past the limit of 2: the address is blocked');
    assert.match(await raw(hook), / 429 /, 'and refused at once from then on');
  } finally {
    await bridge.close();
  }
});

test('abuse behind proxies named by address: a peer that is not one of them keeps its per-address socket cap', async () => {
  const bridge = await startBridge({ TRUST_PROXY: '127.0.0.1', MAX_UNAUTHENTICATED_SOCKETS_PER_IP: '3' }, { connectUpstream: pendingUpstream });
  const sockets: ReturnType<typeof connect>[] = [];
  const openFrom = (localAddress: string) =>
    new Promise<ReturnType<typeof connect>>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: bridge.port, localAddress }, () => resolve(s));
      s.on('error', () => {});
      sockets.push(s);
    });
  try {
    for (let i = 0; i < 5; i++) await openFrom('127.0.0.1');
    for (let i = 0; i < 4; i++) await openFrom('127.0.0.9');
    // The direct peer's fourth socket is cut (waited for: a loaded machine reads the close late), then the others
    // have had the same time to be cut wrongly.
    await new Promise((r) => {
      const fourth = sockets[8]!;
      if (fourth.destroyed) r(undefined);
      fourth.once('close', r);
      setTimeout(r, 5000);
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      sockets.map((s) => s.destroyed),
      [false, false, false, false, false, false, false, false, true],
      "the proxy's five sockets stay; the direct peer's fourth is cut",
    );
  } finally {
    for (const s of sockets) s.destroy();
    await bridge.close();
  }
});

test('pure limits: limiter window and cool-down, connection gate, message bucket, admission order', () => {
  const limiter = new AuthFailureLimiter({ maxFailures: 2, windowMs: 1000, cooldownMs: 5000, maxTrackedIps: 2 });
  assert.equal(limiter.recordFailure('a', 0), false);
  assert.equal(limiter.recordFailure('a', 10), false);
  assert.equal(limiter.recordFailure('a', 20), true);
  assert.ok(limiter.isBlocked('a', 4000));
  assert.ok(!limiter.isBlocked('a', 5021));
  limiter.recordFailure('b', 0);
  limiter.recordFailure('c', 0);
  assert.equal(limiter.trackedIps, 2, 'bounded memory');
  const windowed = new AuthFailureLimiter({ maxFailures: 2, windowMs: 1000, cooldownMs: 5000, maxTrackedIps: 10 });
  windowed.recordFailure('x', 0);
  windowed.recordFailure('x', 500);
  assert.equal(windowed.recordFailure('x', 1500), false, 'a new window starts the count again');

  const gate = new ConnectionGate({ maxUnauthenticated: 3, maxUnauthenticatedPerIp: 2 });
  assert.ok(gate.enter('p') && gate.enter('p'));
  assert.ok(!gate.enter('p'));
  assert.ok(gate.enter('q'));
  assert.ok(!gate.enter('r'), 'total cap');
  gate.leave('p');
  assert.ok(gate.enter('r'));

  const bucket = new MessageRateLimit(100, 10, 0);
  let taken = 0;
  while (bucket.take(0)) taken++;
  assert.equal(taken, 10, 'burst');
  assert.ok(bucket.take(10), 'refills at the rate');

  assert.deepEqual(admitCall({ maxCalls: 1, maxLoopDelayMs: 10 }, { liveCalls: 1, loopDelayP99Ms: 50, draining: true }), { admit: false, reason: 'draining' });
  assert.deepEqual(admitCall({ maxCalls: 1, maxLoopDelayMs: 10 }, { liveCalls: 1, loopDelayP99Ms: 50, draining: false }), { admit: false, reason: 'max_calls' });
  assert.deepEqual(admitCall({ maxCalls: 2, maxLoopDelayMs: 10 }, { liveCalls: 1, loopDelayP99Ms: 50, draining: false }), { admit: false, reason: 'event_loop_delay' });
  assert.deepEqual(admitCall({ maxCalls: 2, maxLoopDelayMs: 100 }, { liveCalls: 1, loopDelayP99Ms: 50, draining: false }), { admit: true });
});
