import { test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { stat } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import { holdUntilBatchEnds } from '../src/net/write-coalescer.js';

/** A loopback server whose accepted sockets collect what they receive. */
async function loopbackPair(): Promise<{ client: Socket; received: () => string; close: () => Promise<void> }> {
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => s.on('data', (d: Buffer) => chunks.push(d)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  return {
    client,
    received: () => Buffer.concat(chunks).toString(),
    close: async () => {
      client.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
};

test('writes made in one batch of events are held and leave together, in order, in the same loop turn', async () => {
  const a = await loopbackPair();
  const b = await loopbackPair();
  try {
    // Run inside an I/O callback, as the bridge's writes are: the immediate then precedes any timer.
    const seen = await new Promise<{ heldA: number; heldB: number; afterBatch: number; beforeNextTurn: number }>((resolve) => {
      stat('.', () => {
        for (const [sock, tag] of [[a.client, 'a'], [b.client, 'b'], [a.client, 'A']] as const) {
          holdUntilBatchEnds(sock);
          sock.write(`${tag}1;`);
          sock.write(`${tag}2;`);
        }
        const heldA = a.client.writableLength;
        const heldB = b.client.writableLength;
        let beforeNextTurn = -1;
        setTimeout(() => resolve({ heldA, heldB, afterBatch: a.client.writableLength + b.client.writableLength, beforeNextTurn }), 0);
        setImmediate(() => {
          // The flush was scheduled first, so it has run by now.
          beforeNextTurn = a.client.writableLength + b.client.writableLength;
        });
      });
    });
    assert.equal(seen.heldA, 12, 'both writes of "a" and "A" wait in the socket until the batch ends');
    assert.equal(seen.heldB, 6);
    assert.equal(seen.beforeNextTurn, 0, 'flushed right after the poll phase, before the next loop turn');
    assert.equal(seen.afterBatch, 0);
    await until(() => a.received().length === 12 && b.received().length === 6);
    assert.equal(a.received(), 'a1;a2;A1;A2;');
    assert.equal(b.received(), 'b1;b2;');
    assert.equal(a.client.writableCorked, 0, 'no cork is left behind');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a socket destroyed while held is skipped; undefined (no TCP socket) is a no-op', async () => {
  const a = await loopbackPair();
  const b = await loopbackPair();
  try {
    holdUntilBatchEnds(undefined);
    holdUntilBatchEnds(a.client);
    a.client.write('lost');
    a.client.destroy();
    holdUntilBatchEnds(b.client);
    b.client.write('kept');
    await until(() => b.received() === 'kept');
    assert.equal(b.received(), 'kept');
    assert.equal(b.client.writableCorked, 0);
  } finally {
    await a.close();
    await b.close();
  }
});

test('ws messages and a close sent through a held socket arrive whole and in order', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const got: string[] = [];
  const closed = new Promise<number>((resolve) =>
    wss.on('connection', (s) => {
      s.on('message', (m) => got.push(m.toString()));
      s.on('close', (code) => resolve(code));
    }),
  );
  const ws = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  let tcp: Socket | undefined;
  ws.once('upgrade', (res) => (tcp = res.socket as Socket));
  await once(ws, 'open');
  try {
    for (let i = 0; i < 50; i++) {
      holdUntilBatchEnds(tcp);
      ws.send(`m${i}`);
    }
    assert.ok(ws.bufferedAmount > 0, 'held until the batch ends');
    ws.close(1000, 'done');
    assert.equal(await closed, 1000);
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `m${i}`));
  } finally {
    ws.terminate();
    wss.close();
  }
});

test("RealtimeConnection's sends are held on the upgraded socket and flushed in the same turn", async () => {
  const { RealtimeConnection } = await import('../src/upstream/realtime-connection.js');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const got: string[] = [];
  wss.on('connection', (s) => s.on('message', (m) => got.push(m.toString())));
  const connection = await RealtimeConnection.open(
    { baseUrl: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`, model: 'm', credential: 'ek_test', timeoutMs: 2000 },
    { onEvent: () => {}, onMalformed: () => {}, onClose: () => {} },
  );
  try {
    connection.send('{"type":"a"}');
    connection.send('{"type":"b"}');
    assert.ok(connection.bufferedAmount > 0, 'held: without the upgraded socket the sends would have gone straight to the kernel');
    await new Promise((r) => setImmediate(r));
    assert.equal(connection.bufferedAmount, 0, 'flushed after the batch');
    await until(() => got.length === 2);
    assert.deepEqual(got, ['{"type":"a"}', '{"type":"b"}']);
  } finally {
    connection.close();
    wss.close();
  }
});
