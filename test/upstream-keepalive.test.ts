// The upstream keepalive, through real sockets: a server that goes silent
// (a dropped path, or one that reads but never answers) is reported closed
// with the keepalive reason within its deadline, a healthy quiet server (ws
// answers pings by itself) and a busy one are never dropped, and the link
// reconnects from a keepalive loss as from any other drop. Intervals are
// tens of milliseconds, injected through the connect options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import type { WebSocket } from 'ws';
import { KEEPALIVE_TIMEOUT_REASON, RealtimeConnection, type KeepaliveSettings, type RealtimeHandlers } from '../src/upstream/realtime-connection.js';
import { RealtimeLink, type SessionKind } from '../src/upstream/realtime-link.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

const KA: KeepaliveSettings = { checkMs: 20, quietMs: 60, deadlineMs: 120 };
/**
 * For the cases that must never be dropped: a pong is read only after the loop gets round to it, and a loaded
 * machine can stall the loop past a 120 ms deadline, so a healthy socket gets a deadline a stall cannot reach.
 */
const KA_HEALTHY: KeepaliveSettings = { ...KA, deadlineMs: 1000 };
/** Last frame to verdict is at most quiet + deadline + two checks (220 ms); the rest is room for a busy machine. */
const VERDICT_WITHIN_MS = 1000;

interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly at: number;
}

function open(
  baseUrl: string,
  keepalive: KeepaliveSettings = KA,
): { connection: Promise<RealtimeConnection>; closed: Promise<Closed>; events: () => number; lastEventAt: () => number } {
  let events = 0;
  let lastEventAt = 0;
  let resolveClosed!: (c: Closed) => void;
  const closed = new Promise<Closed>((r) => (resolveClosed = r));
  const handlers: RealtimeHandlers = {
    onEvent: () => {
      events++;
      lastEventAt = performance.now();
    },
    onMalformed: () => {
      events++;
      lastEventAt = performance.now();
    },
    onClose: (code, reason) => resolveClosed({ code, reason, at: performance.now() }),
  };
  const connection = RealtimeConnection.open({ baseUrl, model: 'm', credential: 'ek_test', timeoutMs: 1000, keepalive }, handlers);
  return { connection, closed, events: () => events, lastEventAt: () => lastEventAt };
}

/** Resolves with the close, or with undefined once `ms` have passed without one. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serverSocket(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

test('a path that goes silent (the server reads and writes nothing, no FIN) is lost with the keepalive reason within the deadline', { timeout: 10_000 }, async () => {
  const upstream = await startScriptedUpstream((ws) => serverSocket(ws).pause());
  try {
    const c = open(upstream.baseUrl);
    const connection = await c.connection;
    const openedAt = performance.now();
    const closed = await within(c.closed, VERDICT_WITHIN_MS);
    assert.ok(closed, `not reported lost within ${VERDICT_WITHIN_MS} ms`);
    assert.equal(closed.code, 1006);
    assert.equal(closed.reason, KEEPALIVE_TIMEOUT_REASON);
    const after = closed.at - openedAt;
    assert.ok(after >= KA.quietMs + KA.deadlineMs - KA.checkMs, `lost after ${after.toFixed(0)} ms: before a ping could have had its deadline`);
    assert.equal(connection.isOpen, false);
    assert.equal(connection.send('{}'), false);
  } finally {
    await upstream.close();
  }
});

test('a server that completes the upgrade and keeps reading but never answers is lost with the keepalive reason', { timeout: 10_000 }, async () => {
  let received = 0;
  const sockets: Socket[] = [];
  const server = net.createServer((sock) => {
    sockets.push(sock);
    sock.on('error', () => {});
    let head = '';
    const onHead = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      sock.off('data', onHead);
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)![1]!;
      const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      // From here on it swallows everything (pings included) and writes nothing.
      sock.on('data', (d: Buffer) => void (received += d.length));
    };
    sock.on('data', onHead);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const c = open(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const connection = await c.connection;
    connection.send('{"type":"input_audio_buffer.append","audio":""}');
    const closed = await within(c.closed, VERDICT_WITHIN_MS);
    assert.ok(closed, `not reported lost within ${VERDICT_WITHIN_MS} ms`);
    assert.equal(closed.reason, KEEPALIVE_TIMEOUT_REASON);
    assert.ok(received > 0, 'the server kept reading what was sent');
  } finally {
    for (const sock of sockets) sock.destroy();
    server.close();
  }
});

test('a healthy server that is merely quiet answers the pings and is never dropped', { timeout: 10_000 }, async () => {
  let pings = 0;
  const upstream = await startScriptedUpstream((ws) => ws.on('ping', () => void pings++));
  try {
    const c = open(upstream.baseUrl, KA_HEALTHY);
    const connection = await c.connection;
    // Two deadlines of silence on the application level.
    const closed = await within(c.closed, 2 * (KA_HEALTHY.quietMs + KA_HEALTHY.deadlineMs));
    assert.equal(closed, undefined, `dropped: ${JSON.stringify(closed)}`);
    assert.ok(connection.isOpen);
    assert.ok(pings >= 3, `only ${pings} pings reached the server: the quiet socket was not being checked`);
    connection.close();
    const after = await within(c.closed, 1000);
    assert.equal(after?.reason, 'call ended', 'a close of ours is reported as ours, not as a keepalive loss');
  } finally {
    await upstream.close();
  }
});

test('any inbound frame proves liveness: a server that cannot answer pings but keeps sending events stays up until it stops', { timeout: 10_000 }, async () => {
  let sender: NodeJS.Timeout | undefined;
  const upstream = await startScriptedUpstream((ws) => {
    // It never reads (so never pongs), but writes an event every 20 ms: gaps far shorter than quiet + deadline.
    serverSocket(ws).pause();
    sender = setInterval(() => ws.send('{"type":"input_audio_buffer.committed","item_id":"i1"}'), 20);
  });
  try {
    const c = open(upstream.baseUrl);
    await c.connection;
    const early = await within(c.closed, 5 * (KA.quietMs + KA.deadlineMs));
    assert.equal(early, undefined, `dropped while events were arriving: ${JSON.stringify(early)}`);
    assert.ok(c.events() > 10, `${c.events()} events`);
    clearInterval(sender);
    const closed = await within(c.closed, VERDICT_WITHIN_MS);
    assert.ok(closed, `not reported lost within ${VERDICT_WITHIN_MS} ms of the last event`);
    assert.equal(closed.reason, KEEPALIVE_TIMEOUT_REASON);
    // Measured from the last event read, not from clearInterval: a late timer can stop the sender well after it.
    const quiet = closed.at - c.lastEventAt();
    assert.ok(quiet >= KA.quietMs + KA.deadlineMs - KA.checkMs, `lost ${quiet.toFixed(0)} ms after the last event: before the quiet time and the deadline`);
  } finally {
    clearInterval(sender);
    await upstream.close();
  }
});

test('a keepalive loss goes through the link like any other drop: outage with the reason, then a reconnect', { timeout: 10_000 }, async () => {
  let sockets = 0;
  // The first session's path goes silent; the one after it is healthy.
  const upstream = await startScriptedUpstream((ws) => {
    if (++sockets === 1) serverSocket(ws).pause();
  });
  const outages: string[] = [];
  const active: SessionKind[] = [];
  const fatal: string[] = [];
  let reconnected!: () => void;
  const reconnectedP = new Promise<void>((r) => (reconnected = r));
  const link = new RealtimeLink(
    {
      connect: (handlers) =>
        RealtimeConnection.open({ baseUrl: upstream.baseUrl, model: 'm', credential: 'ek_test', timeoutMs: 1000, keepalive: KA_HEALTHY }, handlers),
      now: () => performance.now(),
      rolloverAfterMs: 3_600_000,
    },
    {
      onEvent: () => {},
      onMalformed: () => {},
      onSessionReady: () => {},
      onSessionActive: (kind) => {
        active.push(kind);
        if (kind === 'reconnect') reconnected();
      },
      onOutage: (reason) => void outages.push(reason),
      onFatal: (reason) => void fatal.push(reason),
    },
  );
  try {
    link.start();
    await within(reconnectedP, 4000);
    assert.deepEqual(outages, [`AI session closed (1006 ${KEEPALIVE_TIMEOUT_REASON})`]);
    assert.deepEqual(active, ['initial', 'reconnect']);
    assert.deepEqual(fatal, []);
    // The replacement is healthy and quiet: it stays.
    await sleep(2 * (KA_HEALTHY.quietMs + KA_HEALTHY.deadlineMs));
    assert.ok(link.isUp);
    assert.equal(outages.length, 1);
    assert.equal(upstream.accepted(), 2);
  } finally {
    link.close();
    await upstream.close();
  }
});
