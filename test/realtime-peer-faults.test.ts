// Fault injection of the local realtime peer, over real loopback sockets:
// each control does what it says, at the moment it says.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readWav } from '../src/audio/wav.js';
import { startRealtimePeer, type RealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { connectToPeer, mintToken, sendSpeech, type RealtimeTestClient } from '../src/devtools/realtime-peer/test-client.js';
import { eventually } from './support/bridge-harness.js';

const API_KEY = 'sk-test-long-lived';
const question8k = readWav(fileURLToPath(new URL('../fixtures/caller-question.wav', import.meta.url))).samples;

let peer: RealtimePeer;
const clients: RealtimeTestClient[] = [];

before(async () => {
  // Slow enough that a response is still streaming when a test acts on it.
  peer = await startRealtimePeer({ apiKey: API_KEY, vad: { minSpeechMs: 30 }, pacing: { chunkMs: 100, deltasPerBurst: 2, burstIntervalMs: 20, firstDeltaDelayMs: 0 } });
});

after(async () => {
  for (const c of clients) c.terminate();
  await peer.close();
});

async function open(p: RealtimePeer = peer, turnDetection: unknown = { type: 'server_vad', silence_duration_ms: 200 }): Promise<RealtimeTestClient> {
  const c = connectToPeer(p, API_KEY);
  clients.push(c);
  await c.next('session.created');
  c.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { format: { type: 'audio/pcmu' }, turn_detection: turnDetection }, output: { format: { type: 'audio/pcmu' } } } } });
  await c.next('session.updated');
  return c;
}

describe('dropping the socket at a protocol moment', () => {
  test("dropNext({when:'speech'}): cut right after speech_started, no close frame", async () => {
    const c = await open();
    const dropped = peer.faults.dropNext({ when: 'speech' });
    sendSpeech(c, question8k, 'pcmu');
    const closed = await c.closed;
    assert.equal(closed.code, 1006);
    const s = await dropped;
    assert.equal(s.index, peer.sessions.length - 1);
    assert.deepEqual({ code: s.closed?.code, by: s.closed?.by, abrupt: s.closed?.abrupt }, { code: 1006, by: 'peer', abrupt: true });
    assert.equal(c.ofType('input_audio_buffer.speech_started').length, 1);
    assert.equal(c.ofType('input_audio_buffer.speech_stopped').length, 0);
  });

  test("dropNext({when:'response'}): cut after the first audio delta of a response", async () => {
    const c = await open();
    const dropped = peer.faults.dropNext({ when: 'response' });
    c.send({ type: 'response.create' });
    assert.equal((await c.closed).code, 1006);
    await dropped;
    assert.equal(c.ofType('response.output_audio.delta').length, 1);
    assert.equal(c.ofType('response.done').length, 0);
  });

  test("dropNext({when:'response', afterAudioMs}) waits until that much audio was sent", async () => {
    const c = await open();
    const dropped = peer.faults.dropNext({ when: 'response', afterAudioMs: 450 });
    c.send({ type: 'response.create' });
    assert.equal((await c.closed).code, 1006);
    await dropped;
    // 100 ms deltas: dropped right after the fifth.
    assert.equal(c.ofType('response.output_audio.delta').length, 5);
  });

  test("dropNext({when:'toolCall'}): cut after function_call_arguments.done, before response.done", async () => {
    const c = await open();
    peer.queueReply({ type: 'function_call', name: 'transfer_call', arguments: '{"to":"sales"}' });
    const dropped = peer.faults.dropNext({ when: 'toolCall' });
    c.send({ type: 'response.create' });
    assert.equal((await c.closed).code, 1006);
    await dropped;
    assert.equal(c.ofType('response.function_call_arguments.done').length, 1);
    assert.equal(c.ofType('response.done').length, 0);
  });

  test('an armed fault can target one session and waits for it', async () => {
    const a = await open();
    const b = await open();
    const target = peer.sessions.length - 1;
    const dropped = peer.faults.dropNext({ when: 'response', session: target });
    a.send({ type: 'response.create' });
    await a.next('response.done');
    b.send({ type: 'response.create' });
    assert.equal((await b.closed).code, 1006);
    assert.equal((await dropped).index, target);
    assert.equal(peer.sessions[target - 1]!.closed, null);
  });

  test('closeNext sends a close frame with the given code at the moment', async () => {
    const c = await open();
    const closedAt = peer.faults.closeNext({ when: 'response', code: 1001, reason: 'going away' });
    c.send({ type: 'response.create' });
    assert.deepEqual(await c.closed, { code: 1001, reason: 'going away' });
    const s = await closedAt;
    // The peer records the close once its side of the socket has finished closing.
    while (s.closed === null) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual({ code: s.closed.code, abrupt: s.closed.abrupt, by: s.closed.by }, { code: 1001, abrupt: false, by: 'peer' });
  });
});

describe('clearing', () => {
  test('clear() forgets queued refusals and rejects armed faults', async () => {
    const armed = peer.faults.dropNext({ when: 'toolCall' });
    peer.faults.refuseUpgrades(3, { status: 503 });
    peer.faults.failTokenRequests(3);
    peer.faults.clear();
    await assert.rejects(armed, /cleared/);
    assert.equal((await mintToken(peer, API_KEY)).status, 200);
    const c = connectToPeer(peer, API_KEY);
    clients.push(c);
    await c.opened;
  });
});

describe('closing now', () => {
  for (const [code, reason] of [[1001, 'going away'], [3000, 'invalid_api_key'], [4000, 'beta_api_shape_disabled']] as const) {
    test(`close(${code}) sends that code and reason`, async () => {
      const c = await open();
      peer.faults.close(code, reason);
      assert.deepEqual(await c.closed, { code, reason });
    });
  }

  test('close(1006) and drop() cut the TCP socket', async () => {
    const a = await open();
    peer.faults.close(1006, 'ignored');
    assert.equal((await a.closed).code, 1006);
    const b = await open();
    const s = peer.faults.drop();
    assert.equal((await b.closed).code, 1006);
    assert.equal(s.closed?.abrupt, true);
  });

  test('expire(): error session_expired, then close 1001', async () => {
    const c = await open();
    peer.faults.expire();
    assert.equal((await c.nextError()).code, 'session_expired');
    assert.equal((await c.closed).code, 1001);
  });

  test('sessionMaxAgeMs expires sessions on its own', async () => {
    const p = await startRealtimePeer({ apiKey: API_KEY, sessionMaxAgeMs: 150 });
    try {
      const c = connectToPeer(p, API_KEY);
      clients.push(c);
      const created = await c.next('session.created');
      const expiresAt = (created['session'] as { expires_at: number }).expires_at;
      assert.ok(Math.abs(expiresAt - Date.now() / 1000) <= 1, 'Math.abs(expiresAt - Date.now() / 1000) <= 1');
      assert.equal((await c.nextError()).code, 'session_expired');
      assert.deepEqual(await c.closed, { code: 1001, reason: 'session_expired' });
    } finally {
      await p.close();
    }
  });
});

describe('refusing upgrades', () => {
  for (const status of [401, 403, 503]) {
    test(`refuseUpgrades(1, {status:${status}}) answers ${status} once`, async () => {
      peer.faults.refuseUpgrades(1, { status });
      const refused = connectToPeer(peer, API_KEY);
      await assert.rejects(refused.opened, (e: Error & { status?: number }) => e.status === status);
      const ok = connectToPeer(peer, API_KEY);
      clients.push(ok);
      await ok.opened;
      assert.deepEqual(peer.upgrades.at(-2)!.outcome, { kind: 'http', status });
    });
  }

  test("refuseUpgrades(2, 'reset') resets the connection twice", async () => {
    peer.faults.refuseUpgrades(2, 'reset');
    for (let i = 0; i < 2; i++) {
      const c = connectToPeer(peer, API_KEY);
      await assert.rejects(c.opened, (e: Error & { code?: string }) => e.code === 'ECONNRESET' || /socket hang up/.test(e.message));
    }
    const ok = connectToPeer(peer, API_KEY);
    clients.push(ok);
    await ok.opened;
  });

  test("refuseUpgrades(1, 'hang') never answers the upgrade", async () => {
    peer.faults.refuseUpgrades(1, 'hang');
    const c = connectToPeer(peer, API_KEY, { handshakeTimeoutMs: 150 });
    clients.push(c);
    await assert.rejects(c.opened, /timed out/);
    assert.deepEqual(peer.upgrades.at(-1)!.outcome, { kind: 'hang' });
  });
});

describe('failing the token endpoint', () => {
  test('failTokenRequests(2, {status:503}) fails twice, then mints', async () => {
    peer.faults.failTokenRequests(2, { status: 503 });
    const first = await mintToken(peer, API_KEY);
    assert.equal(first.status, 503);
    assert.equal((first.json['error'] as { type: string }).type, 'server_error');
    assert.equal((await mintToken(peer, API_KEY)).status, 503);
    assert.equal((await mintToken(peer, API_KEY)).status, 200);
  });

  test('failTokenRequests(1) defaults to 500', async () => {
    peer.faults.failTokenRequests(1);
    assert.equal((await mintToken(peer, API_KEY)).status, 500);
  });

  test("failTokenRequests(1, 'stall') never answers", async () => {
    peer.faults.failTokenRequests(1, 'stall');
    const before = peer.tokenRequests.length;
    const abort = new AbortController();
    const minting = mintToken(peer, API_KEY, undefined, abort.signal);
    // Given up only once the peer has taken the request (a fixed timeout could fire first on a loaded machine,
    // leaving the stall armed for the next request).
    await eventually(() => peer.tokenRequests.length > before);
    assert.equal(peer.tokenRequests.at(-1)!.status, 'stalled');
    // Still unanswered a while later.
    const answered = await Promise.race([minting.then(() => true, () => true), new Promise((r) => setTimeout(() => r(false), 150))]);
    assert.equal(answered, false, 'a stalled request is never answered');
    abort.abort();
    await assert.rejects(minting, (e: Error) => e.name === 'AbortError');
    assert.equal((await mintToken(peer, API_KEY)).status, 200);
  });

  test("failTokenRequests(1, 'reset') resets the connection", async () => {
    peer.faults.failTokenRequests(1, 'reset');
    await assert.rejects(mintToken(peer, API_KEY));
    assert.equal(peer.tokenRequests.at(-1)!.status, 'reset');
  });
});

describe('stalling reads', () => {
  test('stallReading() makes the client buffer grow; resuming delivers everything', async () => {
    const c = await open(peer, null);
    const index = peer.sessions.length - 1;
    const resume = peer.faults.stallReading();
    const before = peer.sessions[index]!.received.length;
    // 1 MB frames of μ-law silence: enough to fill the loopback socket buffers.
    const frame = { type: 'input_audio_buffer.append', audio: Buffer.alloc(768 * 1024, 0xff).toString('base64') };
    for (let i = 0; i < 24; i++) c.send(frame);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(c.ws.bufferedAmount > 1024 * 1024, `bufferedAmount ${c.ws.bufferedAmount}`);
    const receivedWhileStalled = peer.sessions[index]!.received.length - before;
    assert.ok(receivedWhileStalled < 24, `received ${receivedWhileStalled} while stalled`);
    resume();
    await peer.waitFor('clientEvent', (s) => s.index === index && s.received.length - before === 24, 5000);
    assert.equal(c.ws.bufferedAmount, 0);
  });
});
