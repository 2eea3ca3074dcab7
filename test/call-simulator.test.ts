// End-to-end tests of the call simulator against a tiny fake bridge defined
// here (plain http + ws): it checks Twilio signatures with the real twilio
// library, answers TwiML, and plays a scripted part on the media stream.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import twilio from 'twilio';
import alawmulaw from 'alawmulaw';
import { WebSocketServer, type WebSocket } from 'ws';
import { readWav } from '../src/audio/wav.js';
import {
  openStream,
  postVoiceWebhook,
  runSimulatedCall,
  voiceWebhookParams,
  formatReport,
  SharedTicker,
  SimulatedCall,
  type CallReport,
} from '../src/devtools/call-simulator/index.js';

const PUBLIC_URL = 'https://voice.example.com';
const AUTH_TOKEN = 'test-auth-token-not-real-0001';
const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);

interface InboundMessage {
  readonly event: string;
  readonly sequenceNumber?: string;
  readonly streamSid?: string;
  readonly [k: string]: unknown;
}

/** One accepted stream as the fake bridge sees it. */
interface StreamSide {
  readonly ws: WebSocket;
  readonly received: InboundMessage[];
  streamSid: string;
  readonly headers: IncomingMessage['headers'];
  send(obj: unknown): void;
  media(samples: Int16Array): void;
  mark(name: string): void;
  clear(): void;
}

type Behaviour = (side: StreamSide, msg: InboundMessage) => void;

interface FakeBridge {
  readonly url: string;
  /** Signature checks the bridge made, with the real twilio library. */
  readonly checks: { kind: 'webhook' | 'upgrade'; valid: boolean }[];
  readonly streams: StreamSide[];
  behaviour: Behaviour;
  parameters: Record<string, string>;
}

const tone = (ms: number, amp = 8000, hz = 440): Int16Array => {
  const out = new Int16Array((ms * 8000) / 1000);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * i) / 8000));
  return out;
};
const b64 = (s: Int16Array): string => Buffer.from(alawmulaw.mulaw.encode(s)).toString('base64');

async function startFakeBridge(): Promise<FakeBridge> {
  const tickets = new Set<string>();
  let n = 0;
  const bridge: FakeBridge = {
    url: '',
    checks: [],
    streams: [],
    behaviour: () => {},
    parameters: { greeting: 'Tom & "Jerry" <3', plain: 'x' },
  };
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/twilio/voice') return void res.writeHead(404).end();
      const params = Object.fromEntries(new URLSearchParams(body));
      const valid = twilio.validateRequest(AUTH_TOKEN, String(req.headers['x-twilio-signature'] ?? ''), `${PUBLIC_URL}/twilio/voice`, params);
      bridge.checks.push({ kind: 'webhook', valid });
      if (!valid) return void res.writeHead(403).end('bad signature');
      const ticket = `t${++n}x${params['CallSid']}`;
      tickets.add(ticket);
      const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
      const ps = Object.entries(bridge.parameters)
        .map(([k, v]) => `<Parameter name="${esc(k)}" value="${esc(v)}"/>`)
        .join('');
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://voice.example.com/twilio/stream/${ticket}">${ps}</Stream></Connect></Response>`);
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const ticket = (req.url ?? '').replace('/twilio/stream/', '');
    const valid = twilio.validateRequest(AUTH_TOKEN, String(req.headers['x-twilio-signature'] ?? ''), `wss://voice.example.com${req.url}`, {});
    bridge.checks.push({ kind: 'upgrade', valid });
    if (!valid || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const side: StreamSide = {
        ws,
        received: [],
        streamSid: '',
        headers: req.headers,
        send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
        media: (s) => side.send({ event: 'media', streamSid: side.streamSid, media: { payload: b64(s) } }),
        mark: (name) => side.send({ event: 'mark', streamSid: side.streamSid, mark: { name } }),
        clear: () => side.send({ event: 'clear', streamSid: side.streamSid }),
      };
      bridge.streams.push(side);
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as InboundMessage;
        if (msg.event === 'start') side.streamSid = String(msg.streamSid);
        side.received.push(msg);
        bridge.behaviour(side, msg);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    wss.close();
    server.closeAllConnections();
    server.close();
  });
  return Object.assign(bridge, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const bridge = await startFakeBridge();
const base = { bridgeUrl: bridge.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, tickMs: 10 };

const inboundMedia = (side: StreamSide): { sequenceNumber: string; media: { chunk: string; timestamp: string; payload: string; track: string } }[] =>
  side.received.filter((m) => m.event === 'media') as never;

const noViolations = (r: CallReport): void => assert.deepEqual(r.violations, [], formatReport(r));

test('a full call: signed webhook and upgrade, paced caller audio, a reply heard at playback speed with its mark echoed on time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'callsim-'));
  const wavPath = join(dir, 'heard.wav');
  // The bridge answers the caller's 300 ms of speech with 1 s of tone sent at once, then a mark.
  bridge.behaviour = (side, msg) => {
    if (msg.event === 'media' && (msg as never as { media: { timestamp: string } }).media.timestamp === '300') {
      side.media(tone(1000));
      side.mark('reply-1');
    }
  };
  const r = await runSimulatedCall({
    ...base,
    from: '+15550001111',
    script: [{ say: tone(300, 6000, 300) }, { waitFor: 'assistantDone', idleMs: 100, timeoutMs: 3000 }],
    recordWav: wavPath,
  });
  noViolations(r);
  const side = bridge.streams.at(-1)!;
  assert.deepEqual(bridge.checks.slice(-2), [
    { kind: 'webhook', valid: true },
    { kind: 'upgrade', valid: true },
  ]);
  assert.equal(side.headers['user-agent'], 'Twilio.TmeWs/1.0');
  assert.equal(r.upgradeStatus, 101);
  assert.deepEqual(r.parameters, { greeting: 'Tom & "Jerry" <3', plain: 'x' });

  // Twilio's opening: connected, then start with the TwiML parameters.
  assert.deepEqual(side.received[0], { event: 'connected', protocol: 'Call', version: '1.0.0' });
  const start = side.received[1] as never as { sequenceNumber: string; streamSid: string; start: Record<string, unknown> };
  assert.equal(start.sequenceNumber, '1');
  assert.match(start.streamSid, /^MZ[0-9a-f]{32}$/);
  assert.deepEqual(start.start, {
    accountSid: ACCOUNT_SID,
    streamSid: start.streamSid,
    callSid: r.callSid,
    tracks: ['inbound'],
    mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    customParameters: { greeting: 'Tom & "Jerry" <3', plain: 'x' },
  });

  // One sequence across every message after connected (media, mark echo, stop).
  assert.deepEqual(
    side.received.slice(1).map((m) => m.sequenceNumber),
    side.received.slice(1).map((_, i) => String(i + 1)),
  );
  // Media: 160-byte frames, chunk from 1 upward, 20 ms timestamps without gaps.
  const media = inboundMedia(side);
  assert.equal(media.length, r.framesSent);
  media.forEach((m, i) => {
    assert.equal(m.media.chunk, String(i + 1));
    assert.equal(m.media.timestamp, String(i * 20));
    assert.equal(m.media.track, 'inbound');
    assert.equal(Buffer.from(m.media.payload, 'base64').length, 160);
  });

  // The mark is echoed once the 1 s reply has played (1 s after playback
  // began), not when it arrived right behind the audio.
  const mark = r.marks[0]!;
  const reply = r.playback[0]!;
  assert.equal(r.marks.length, 1);
  assert.equal(mark.dueAtMs, reply.endMs);
  assert.ok(mark.ackedAtMs !== undefined, 'mark echoed');
  const waited = mark.ackedAtMs - reply.startMs;
  // Upper bounds leave a loaded machine room for a stalled tick; they still tell "after playback" from "on receipt".
  assert.ok(waited >= 1000 && waited < 1500, `mark echoed ${waited} ms after the reply began playing`);
  assert.ok(mark.receivedAtMs - reply.startMs < 500, `mark received ${mark.receivedAtMs - reply.startMs} ms after the audio`);
  const echo = side.received.find((m) => m.event === 'mark') as never as { mark: { name: string }; streamSid: string; sequenceNumber: string };
  assert.deepEqual(echo.mark, { name: 'reply-1' });
  assert.equal(echo.streamSid, side.streamSid);
  assert.equal(r.marksAcked, 1);
  assert.ok(r.maxLeadMs >= 990 && r.maxLeadMs <= 1000, `lead ${r.maxLeadMs}`);
  assert.equal(r.audioReceivedMs, 1000);

  // The reply answers the speech; latency is the loopback round trip plus a tick (the bound is room for a loaded machine).
  assert.equal(r.turns.length, 1);
  assert.ok(r.latenciesMs[0]! >= 0 && r.latenciesMs[0]! < 1000, `latency ${r.latenciesMs[0]}`);

  // Heard timeline: silence, then the tone from the span start, for 1 s.
  const span = r.playback[0]!;
  const startSample = span.startMs * 8;
  assert.equal(r.playback.length, 1);
  assert.equal(span.endMs - span.startMs, 1000);
  assert.ok(r.heard.subarray(0, startSample).every((v) => v === 0), 'silence before the reply');
  const peak = r.heard.subarray(startSample, startSample + 8000).reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  assert.ok(peak > 7000, `peak ${peak}`);
  assert.equal(readWav(wavPath).samples.length, r.heard.length);

  // Hang-up: stop is the last message, and the simulator closed first.
  const stop = side.received.at(-1) as never as { event: string; stop: unknown };
  assert.equal(stop.event, 'stop');
  assert.deepEqual(stop.stop, { accountSid: ACCOUNT_SID, callSid: r.callSid });
  assert.equal(r.closedBy, 'simulator');
  assert.equal(r.closeCode, 1000);
  assert.equal(r.endReason, 'script finished');
});

test('barge-in: the caller talks over the reply, the bridge clears, queued audio is dropped and pending marks come back at once', async () => {
  // The bridge greets with 1.5 s of audio and two marks sent at once; on the
  // first non-silent caller frame it sends clear.
  let cleared = false;
  bridge.behaviour = (side, msg) => {
    if (msg.event === 'start') {
      side.media(tone(1000));
      side.mark('a');
      side.media(tone(500));
      side.mark('b');
    }
    const payload = (msg as never as { media?: { payload: string } }).media?.payload;
    if (!cleared && payload !== undefined && Buffer.from(payload, 'base64').some((b) => b !== 0xff)) {
      cleared = true;
      side.clear();
    }
  };
  const r = await runSimulatedCall({ ...base, script: [{ bargeIn: 300, say: tone(200, 6000, 300) }, { silenceMs: 100 }] });
  noViolations(r);
  const seg = r.speech[0]!;
  assert.equal(seg.bargeIn, true);
  // Barge-in starts once 300 ms of the reply were heard (decided on the 20 ms frame grid).
  const heardBefore = seg.startMs - r.playback[0]!.startMs;
  assert.ok(heardBefore >= 280 && heardBefore <= 340, `barged in after ${heardBefore} ms of reply`);

  assert.equal(r.clears.length, 1);
  const clear = r.clears[0]!;
  assert.ok(clear.atMs > seg.startMs && clear.atMs < seg.startMs + 1000, `clear at ${clear.atMs}, speech at ${seg.startMs}`);
  assert.equal(clear.marksFlushed, 2);
  const expectDiscarded = 1500 - (clear.atMs - r.playback[0]!.startMs);
  assert.ok(Math.abs(clear.discardedMs - expectDiscarded) <= 0.125, `discarded ${clear.discardedMs}, expected ${expectDiscarded}`);
  // Both marks echoed the moment the clear arrived, in order, flagged as flushed.
  assert.deepEqual(
    r.marks.map((m) => [m.name, m.ackedAtMs, m.viaClear]),
    [
      ['a', clear.atMs, true],
      ['b', clear.atMs, true],
    ],
  );
  const side = bridge.streams.at(-1)!;
  assert.deepEqual(
    side.received.filter((m) => m.event === 'mark').map((m) => (m as never as { mark: { name: string } }).mark.name),
    ['a', 'b'],
  );
  // Nothing is heard after the clear.
  const cut = Math.ceil(clear.atMs * 8);
  assert.ok(r.heard.subarray(cut).every((v) => v === 0), 'silence after the clear');
  assert.ok(r.heard.subarray(cut - 80, cut).some((v) => v !== 0), 'reply audible up to the clear');
  assert.equal(r.playback.length, 1);
  // Spans sit on the 8 kHz sample grid.
  assert.ok(Math.abs(r.playback[0]!.endMs - clear.atMs) <= 0.125, `span ends ${r.playback[0]!.endMs}, clear at ${clear.atMs}`);
  assert.equal(r.unplayedAtEndMs, 0);
});

test('dropped silent frames make the timestamp jump while sequenceNumber and chunk stay contiguous', async () => {
  bridge.behaviour = () => {};
  const r = await runSimulatedCall({
    ...base,
    dropSilentFrames: true,
    dropFrames: new Set([12]),
    script: [{ silenceMs: 100 }, { say: tone(100) }, { silenceMs: 60 }, { say: tone(60) }],
  });
  noViolations(r);
  const media = inboundMedia(bridge.streams.at(-1)!);
  // Slots 0-4 silent (dropped), 5-9 tone, 10-12 silent, 13-15 tone minus the configured slot 12.
  assert.deepEqual(
    media.map((m) => m.media.timestamp),
    ['100', '120', '140', '160', '180', '260', '280', '300'],
  );
  assert.deepEqual(
    media.map((m) => m.media.chunk),
    ['1', '2', '3', '4', '5', '6', '7', '8'],
  );
  assert.equal(r.framesSent, 8);
  assert.equal(r.framesDropped, 8);
});

test('forged signatures: the webhook gets 403 and the upgrade is refused with its status', async () => {
  const params = voiceWebhookParams({ callSid: 'CA' + 'f'.repeat(32), accountSid: ACCOUNT_SID });
  const forged = await postVoiceWebhook({ bridgeUrl: bridge.url, publicUrl: PUBLIC_URL, authToken: 'wrong-token', params });
  assert.equal(forged.status, 403);
  assert.equal(forged.stream, undefined);
  // Signed for the loopback URL instead of the public one: also refused.
  const wrongUrl = await postVoiceWebhook({ bridgeUrl: bridge.url, publicUrl: bridge.url, authToken: AUTH_TOKEN, params });
  assert.equal(wrongUrl.status, 403);

  const ok = await postVoiceWebhook({ bridgeUrl: bridge.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, params });
  assert.equal(ok.status, 200);
  assert.ok(ok.stream, 'TwiML has a stream');
  const refused = await openStream({ bridgeUrl: bridge.url, streamUrl: ok.stream.url, authToken: 'wrong-token' });
  assert.equal(refused.upgradeStatus, 403);
  assert.equal(refused.ws, undefined);
  const unsigned = await openStream({ bridgeUrl: bridge.url, streamUrl: ok.stream.url, authToken: AUTH_TOKEN, signature: null });
  assert.equal(unsigned.upgradeStatus, 403);
  const opened = await openStream({ bridgeUrl: bridge.url, streamUrl: ok.stream.url, authToken: AUTH_TOKEN });
  assert.equal(opened.upgradeStatus, 101);
  opened.ws!.close();

  // The whole call with the wrong token: refused at the webhook, reported, not thrown.
  const r = await runSimulatedCall({ ...base, authToken: 'wrong-token', script: [{ silenceMs: 100 }] });
  assert.equal(r.webhook.status, 403);
  assert.equal(r.upgradeStatus, undefined);
  assert.equal(r.endReason, 'webhook answered 403');
  assert.equal(r.durationMs, 0);
  assert.equal(r.heard.length, 0);
  assert.match(formatReport(r), /webhook: HTTP 403/);
});

test('garbage from the bridge is recorded as protocol violations, and valid messages still play', async () => {
  bridge.behaviour = (side, msg) => {
    if (msg.event !== 'start') return;
    side.send('this is not json');
    side.send('[1,2]');
    side.send({ event: 'play', streamSid: side.streamSid });
    side.send({ event: 'media', streamSid: 'MZ' + '0'.repeat(32), media: { payload: b64(tone(20)) } });
    side.send({ event: 'media', streamSid: side.streamSid, media: { payload: 'not base64!' } });
    side.send({ event: 'media', streamSid: side.streamSid, media: {} });
    side.send({ event: 'mark', streamSid: side.streamSid, mark: { name: 7 } });
    side.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    side.media(tone(100));
  };
  const r = await runSimulatedCall({ ...base, script: [{ silenceMs: 200 }] });
  assert.deepEqual(
    r.violations.map((v) => v.kind),
    ['bad-json', 'not-an-object', 'unknown-event', 'wrong-stream-sid', 'bad-media', 'bad-media', 'bad-mark', 'binary-frame'],
  );
  assert.equal(r.violations[0]!.raw, 'this is not json');
  assert.equal(r.audioReceivedMs, 100);
  assert.equal(r.media.length, 1);
});

test('the bridge closing first ends the call and is reported as such', async () => {
  bridge.behaviour = (side, msg) => {
    if (msg.event === 'media' && (msg as never as { media: { chunk: string } }).media.chunk === '3') side.ws.close(1000, 'goodbye');
  };
  const r = await runSimulatedCall({ ...base, script: [{ silenceMs: 2000 }] });
  noViolations(r);
  assert.equal(r.closedBy, 'bridge');
  assert.equal(r.closeCode, 1000);
  assert.equal(r.closeReason, 'goodbye');
  assert.ok(r.durationMs < 500, `duration ${r.durationMs}`);
  assert.equal(bridge.streams.at(-1)!.received.some((m) => m.event === 'stop'), false);
});

test('one shared ticker drives several concurrent calls on one clock', async () => {
  // The bridge echoes each caller frame straight back, then a mark per frame.
  bridge.behaviour = (side, msg) => {
    const m = msg as never as { media?: { payload: string; chunk: string } };
    if (m.media === undefined) return;
    side.send({ event: 'media', streamSid: side.streamSid, media: { payload: m.media.payload } });
    side.mark(`echo-${m.media.chunk}`);
  };
  const ticker = new SharedTicker(10);
  const calls = [0, 1, 2].map(
    (i) =>
      new SimulatedCall({ ...base, externalTicks: true, script: [{ say: tone(200, 5000, 300 + 100 * i) }, { waitFor: 'assistantDone', idleMs: 60 }] }),
  );
  assert.throws(() => ticker.run(new SimulatedCall({ ...base, script: [] })), /externalTicks/);
  const reports = await Promise.all(calls.map((c) => ticker.run(c)));
  assert.equal(ticker.size, 0);
  for (const r of reports) {
    noViolations(r);
    // 10 frames of speech, then silence until the echo has played and 60 ms more.
    assert.ok(r.framesSent >= 13, `${r.framesSent} frames sent`);
    // Every mark is echoed when the echo before it has played, and only then:
    // the last ones may still be playing at hang-up and are never echoed.
    for (const m of r.marks) {
      if (m.ackedAtMs === undefined) {
        assert.ok(m.dueAtMs > r.durationMs - 1, `${m.name} due at ${m.dueAtMs} but not echoed by ${r.durationMs}`);
        continue;
      }
      const late = m.ackedAtMs - m.dueAtMs;
      assert.ok(late >= 0 && late < 1000, `${m.name} echoed ${late} ms after it was due`);
    }
    assert.ok(r.marksAcked >= 5, `${r.marksAcked}/${r.marksSent} marks echoed`);
    assert.ok(r.audioReceivedMs >= 200, `received ${r.audioReceivedMs} ms`);
  }
});

test('a hang-up before the stream is up means the stream never starts', async () => {
  bridge.behaviour = () => {};
  const before = bridge.streams.length;
  const call = new SimulatedCall({ ...base, script: [{ silenceMs: 1000 }] });
  const done = call.run();
  call.hangup('TwiML replaced');
  const r = await done;
  assert.equal(r.endReason, 'TwiML replaced');
  assert.equal(r.webhook.status, 200);
  assert.equal(r.upgradeStatus, undefined);
  assert.equal(r.framesSent, 0);
  assert.equal(r.closedBy, 'none');
  assert.equal(bridge.streams.length, before);
});
