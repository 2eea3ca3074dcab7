// Every bad input named by the issue, through real sockets on loopback: each
// gets a defined answer, the process never crashes, and other calls go on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import type WebSocket from 'ws';
import type { CallSummary } from '../src/call/call-session.js';
import type { UpstreamConnector } from '../src/upstream/connect.js';
import {
  AUTH_TOKEN,
  PUBLIC_URL,
  callSid,
  closed,
  eventually,
  mediaMessage,
  openStream,
  postWebhook,
  startBridge,
  startMessage,
  stopMessage,
  webhookFields,
  type RunningBridge,
} from './support/bridge-harness.js';
import { startScriptedUpstream } from './support/scripted-upstream.js';

// These tests are about the Twilio side, so the AI session is held pending:
// caller audio waits in its bounded buffer and nothing else happens upstream.
const pendingUpstream: UpstreamConnector = () => new Promise(() => {});

let bridge: RunningBridge;
let clock = Date.now();
before(async () => {
  // A start deadline no loaded machine reaches between an upgrade and its start message; the test of the
  // deadline itself has a bridge of its own.
  bridge = await startBridge({ TWILIO_MAX_MESSAGE_BYTES: '8192' }, { connectUpstream: pendingUpstream, now: () => clock, startTimeoutMs: 5000 });
});
after(() => bridge.close());

async function ticketUrl(sid = callSid()): Promise<{ sid: string; url: string }> {
  const res = await postWebhook(bridge.url, webhookFields(sid));
  assert.equal(res.status, 200);
  return { sid, url: res.streamUrl! };
}

async function openCall(): Promise<{ sid: string; ws: WebSocket }> {
  const { sid, url } = await ticketUrl();
  const opened = await openStream(bridge.url, url);
  assert.ok('ws' in opened, 'upgrade accepted');
  return { sid, ws: opened.ws };
}

test('webhook: a valid signature gets TwiML connecting a wss stream with parameters', async () => {
  const sid = callSid();
  const res = await postWebhook(bridge.url, webhookFields(sid));
  assert.equal(res.status, 200);
  assert.match(res.body, /^<\?xml.*<Response><Connect><Stream url="wss:\/\/voice\.example\.com\/twilio\/stream\/[A-Za-z0-9_.-]+">/);
  assert.ok(res.body.includes(`<Parameter name="callSid" value="${sid}"/>`));
  assert.ok(!new URL(res.streamUrl!).search, 'no query string on the stream URL');
});

test('webhook: missing or invalid signature gets 403 and no TwiML', async () => {
  const fields = webhookFields(callSid());
  for (const signature of [null, 'bm90IGEgc2lnbmF0dXJl', twilio.getExpectedTwilioSignature(AUTH_TOKEN, 'https://evil.example.com/twilio/voice', fields)]) {
    const res = await postWebhook(bridge.url, fields, signature);
    assert.equal(res.status, 403);
    assert.ok(!res.body.includes('<Response>'));
  }
  // A field changed after signing invalidates the signature.
  const signed = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice`, fields);
  assert.equal((await postWebhook(bridge.url, { ...fields, From: '+15550000000' }, signed)).status, 403);
});

test('webhook: a Voice URL with a query string is checked exactly as requested', async () => {
  const fields = webhookFields(callSid());
  const signed = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice?agent=sales`, fields);
  const post = (path: string) =>
    fetch(`${bridge.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signed },
      body: new URLSearchParams(fields).toString(),
    });
  assert.equal((await post('/twilio/voice?agent=sales')).status, 200);
  assert.equal((await post('/twilio/voice?agent=support')).status, 403, 'a different query is a different URL');
});

test('webhook: forwarded headers cannot change the URL that is checked', async () => {
  const fields = webhookFields(callSid());
  const forged = twilio.getExpectedTwilioSignature(AUTH_TOKEN, 'https://attacker.example/twilio/voice', fields);
  const res = await fetch(`${bridge.url}/twilio/voice`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': forged, 'x-forwarded-host': 'attacker.example', 'x-forwarded-proto': 'https' },
    body: new URLSearchParams(fields).toString(),
  });
  assert.equal(res.status, 403);
});

test('upgrade: missing signature gets 401, invalid gets 403, and no socket is held', async () => {
  const { url } = await ticketUrl();
  assert.deepEqual(await openStream(bridge.url, url, null), { status: 401 });
  assert.deepEqual(await openStream(bridge.url, url, 'bm9wZQ=='), { status: 403 });
  assert.deepEqual(await openStream(bridge.url, url, twilio.getExpectedTwilioSignature(AUTH_TOKEN, url.replace('wss:', 'https:'), {})), { status: 403 });
  // The failed attempts did not spend the ticket: the real Twilio still gets in.
  const ok = await openStream(bridge.url, url);
  assert.ok('ws' in ok);
  ok.ws.close();
  assert.equal(bridge.app.websocketServer.clients.size <= 1, true);
});

test('upgrade: the signature over the URL with a trailing slash is accepted', async () => {
  const { url } = await ticketUrl();
  const opened = await openStream(bridge.url, url, twilio.getExpectedTwilioSignature(AUTH_TOKEN, url + '/', {}));
  assert.ok('ws' in opened);
  opened.ws.close();
});

test('upgrade: a reused, expired, forged or unknown ticket gets 403', async () => {
  const { url } = await ticketUrl();
  const first = await openStream(bridge.url, url);
  assert.ok('ws' in first);
  first.ws.close();
  assert.deepEqual(await openStream(bridge.url, url), { status: 403 }, 'replay of a used ticket');

  const { url: stale } = await ticketUrl();
  clock += 61_000;
  try {
    assert.deepEqual(await openStream(bridge.url, stale), { status: 403 }, 'expired ticket');
  } finally {
    clock -= 61_000;
  }
  assert.deepEqual(await openStream(bridge.url, `${PUBLIC_URL.replace('https', 'wss')}/twilio/stream/made-up-ticket`), { status: 403 });
  const tampered = url.slice(0, -3) + (url.endsWith('AAA') ? 'BBB' : 'AAA');
  assert.deepEqual(await openStream(bridge.url, tampered), { status: 403 });
});

test('upgrade: a plain GET to the stream path gets 426 and spends nothing', async () => {
  const { url } = await ticketUrl();
  const res = await fetch(bridge.url + new URL(url).pathname);
  assert.equal(res.status, 426);
});

test('start with a CallSid other than the ticket closes 1008', async () => {
  const { ws } = await openCall();
  const done = closed(ws);
  ws.send(startMessage(callSid()));
  const { code, reason } = await done;
  assert.equal(code, 1008);
  assert.match(reason, /callSid/);
});

test('start that never arrives closes 1008 after the deadline', async () => {
  const quick = await startBridge({}, { connectUpstream: pendingUpstream, startTimeoutMs: 300 });
  try {
    const res = await postWebhook(quick.url, webhookFields(callSid()));
    const opened = await openStream(quick.url, res.streamUrl!);
    assert.ok('ws' in opened, 'upgrade accepted');
    const { code, reason } = await closed(opened.ws);
    assert.equal(code, 1008);
    assert.match(reason, /no start/);
  } finally {
    await quick.close();
  }
});

test('start with a media format other than mulaw/8000/1 closes 1008', async () => {
  const { sid, ws } = await openCall();
  const done = closed(ws);
  ws.send(startMessage(sid, { mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000, channels: 1 } }));
  assert.equal((await done).code, 1008);
});

test('media before start closes 1008', async () => {
  const { ws } = await openCall();
  const done = closed(ws);
  ws.send(mediaMessage(0));
  const { code, reason } = await done;
  assert.equal(code, 1008);
  assert.match(reason, /before start/);
});

test('a second start closes 1008', async () => {
  const { sid, ws } = await openCall();
  const done = closed(ws);
  ws.send(startMessage(sid));
  ws.send(startMessage(sid));
  const { code, reason } = await done;
  assert.equal(code, 1008);
  assert.match(reason, /second start/);
});

test('a binary frame closes 1003', async () => {
  const { sid, ws } = await openCall();
  const done = closed(ws);
  ws.send(startMessage(sid));
  ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await done).code, 1003);
});

test('an oversized message closes 1009 (max payload)', async () => {
  const { sid, ws } = await openCall();
  const done = closed(ws);
  ws.send(startMessage(sid));
  ws.send(mediaMessage(0, Buffer.alloc(12_000, 0xff).toString('base64')));
  assert.equal((await done).code, 1009);
});

test('malformed JSON, unknown events and invalid base64 are ignored; the call goes on and stops cleanly', async () => {
  const { sid, ws } = await openCall();
  const done = closed(ws);
  ws.send(startMessage(sid));
  ws.send('{not json');
  ws.send(JSON.stringify({ event: 'party', streamSid: 'MZ' + 'ab'.repeat(16) }));
  ws.send(mediaMessage(0, '!!!not-base64!!!'));
  ws.send(JSON.stringify([1, 2, 3]));
  ws.send(mediaMessage(1));
  ws.send(stopMessage(sid));
  const { code } = await done;
  assert.equal(code, 1000, 'ended by stop, not by the garbage');
  const summary = bridge.logs.find((l) => (l.summary as { callSid?: string } | undefined)?.callSid === sid)?.summary as
    | { ignoredMessages: number; framesIn: number }
    | undefined;
  assert.ok(summary);
  assert.equal(summary.ignoredMessages, 4);
  assert.equal(summary.framesIn, 1);
});

test('bad calls never disturb a healthy call running beside them', async () => {
  const good = await openCall();
  const goodClosed = closed(good.ws);
  let goodClosedEarly = false;
  void goodClosed.then(() => (goodClosedEarly = true));
  good.ws.send(startMessage(good.sid));
  // Twenty abusive calls at once.
  const abusers = await Promise.all(Array.from({ length: 20 }, () => openCall()));
  for (const [i, a] of abusers.entries()) {
    if (i % 4 === 0) a.ws.send(Buffer.from([0xde, 0xad]), { binary: true });
    else if (i % 4 === 1) a.ws.send(mediaMessage(0));
    else if (i % 4 === 2) a.ws.send(startMessage(callSid()));
    else a.ws.send('x'.repeat(9000));
  }
  await Promise.all(abusers.map((a) => (a.ws.readyState === a.ws.CLOSED ? undefined : closed(a.ws))));
  for (let i = 0; i < 10; i++) good.ws.send(mediaMessage(i));
  assert.equal(goodClosedEarly, false);
  good.ws.send(stopMessage(good.sid));
  assert.equal((await goodClosed).code, 1000);
  await eventually(() => bridge.calls.size === 0, 2000, 'all calls to end');
  const res = await fetch(`${bridge.url}/healthz`);
  assert.equal(res.status, 200);
});

test('a flood of bad messages from either peer logs five warnings per peer; the summary counts them all', async () => {
  const BAD = 12;
  const DURING_SETUP = 3;
  // An AI server that sends garbage while the session is being set up, and answers its first audio with more.
  const upstream = await startScriptedUpstream((ws) => {
    let flooded = false;
    ws.on('message', (data) => {
      const type = (JSON.parse(String(data)) as { type: string }).type;
      if (type === 'session.update') {
        for (let i = 0; i < DURING_SETUP; i++) ws.send('{not json');
        ws.send(JSON.stringify({ type: 'session.updated', session: {} }));
      }
      if (type !== 'input_audio_buffer.append' || flooded) return;
      flooded = true;
      for (let i = 0; i < BAD; i++) ws.send(i % 3 === 0 ? '{not json' : i % 3 === 1 ? '{"no":"type"}' : JSON.stringify({ type: 'response.output_audio.delta' }));
    });
  });
  const summaries: CallSummary[] = [];
  const noisy = await startBridge({ OPENAI_BASE_URL: upstream.baseUrl }, { onCallEnded: (s) => summaries.push(s) });
  try {
    const sid = callSid();
    const opened = await openStream(noisy.url, (await postWebhook(noisy.url, webhookFields(sid))).streamUrl!);
    assert.ok('ws' in opened);
    const { ws } = opened;
    ws.send(startMessage(sid));
    for (let i = 0; i < BAD; i++) ws.send('{not json');
    ws.send(mediaMessage(0));
    const warnings = (msg: string) => noisy.logs.filter((l) => l.msg === msg && l.callSid === sid);
    await eventually(() => warnings('ignored a malformed message from the AI server').length >= 5, 3000, 'warnings about the AI server');
    // The rest of the flood arrived with the first five: give it a moment to be (not) logged.
    await new Promise((r) => setTimeout(r, 100));
    const done = closed(ws);
    ws.send(stopMessage(sid));
    assert.equal((await done).code, 1000, 'bad input is ignored, not fatal');
    assert.equal(warnings('ignored a message from Twilio').length, 5);
    assert.equal(warnings('ignored a malformed message from the AI server').length, 5);
    assert.equal(summaries[0]?.ignoredMessages, BAD);
    assert.equal(summaries[0]?.malformedUpstreamMessages, BAD + DURING_SETUP, 'those sent during setup count too');
  } finally {
    await noisy.close();
    await upstream.close();
  }
});
