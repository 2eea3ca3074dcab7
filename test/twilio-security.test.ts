import { test } from 'node:test';
import assert from 'node:assert/strict';
import twilio from 'twilio';
import { TwilioSignatureVerifier } from '../src/twilio/signature.js';
import { InMemoryTicketLedger, StreamTicketIssuer } from '../src/twilio/stream-ticket.js';

const TOKEN = 'test-auth-token-0123456789abcdef';
const CALL = 'CA' + 'a1'.repeat(16);

test("the webhook check matches Twilio's documented example signature", () => {
  // The worked example from Twilio's security docs (token 12345).
  const verifier = new TwilioSignatureVerifier('12345', 'https://example.com');
  const fields = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675310', Digits: '1234', From: '+14158675310', To: '+18005551212' };
  assert.deepEqual(verifier.checkWebhook('L/OH5YylLD5NRKLltdqwSvS0BnU=', '/myapp.php?foo=1&bar=2', fields), { ok: true });
  assert.deepEqual(verifier.checkWebhook('L/OH5YylLD5NRKLltdqwSvS0BnU=', '/myapp.php?foo=1&bar=3', fields), { ok: false, reason: 'invalid' });
  assert.deepEqual(verifier.checkWebhook(undefined, '/myapp.php', fields), { ok: false, reason: 'missing' });
});

test('the upgrade check accepts the wss URL with or without a trailing slash, and nothing else', () => {
  const verifier = new TwilioSignatureVerifier(TOKEN, 'https://voice.example.com');
  const path = '/twilio/stream/abc';
  const sign = (url: string) => twilio.getExpectedTwilioSignature(TOKEN, url, {});
  assert.ok(verifier.checkUpgrade(sign('wss://voice.example.com/twilio/stream/abc'), path).ok);
  assert.ok(verifier.checkUpgrade(sign('wss://voice.example.com/twilio/stream/abc/'), path).ok);
  assert.ok(!verifier.checkUpgrade(sign('https://voice.example.com/twilio/stream/abc'), path).ok, 'scheme matters');
  assert.ok(!verifier.checkUpgrade(sign('wss://evil.example.com/twilio/stream/abc'), path).ok, 'host matters');
  assert.ok(!verifier.checkUpgrade(twilio.getExpectedTwilioSignature('other-token-000000000', 'wss://voice.example.com/twilio/stream/abc', {}), path).ok);
});

test('a ticket is single-use, bound to its CallSid, and expires', () => {
  const issuer = new StreamTicketIssuer(TOKEN, 60_000);
  const ticket = issuer.issue(CALL, 1_000);
  assert.ok(/^[A-Za-z0-9_.-]+$/.test(ticket), 'URL-path safe');
  const first = issuer.consume(ticket, 2_000);
  assert.ok(first.ok && first.claims.callSid === CALL);
  assert.deepEqual(issuer.consume(ticket, 2_001), { ok: false, reason: 'reused' });
  const late = issuer.issue(CALL, 1_000);
  assert.deepEqual(issuer.consume(late, 61_001), { ok: false, reason: 'expired' });
});

test('a ticket from another auth token, or edited, is refused as forged', () => {
  const mine = new StreamTicketIssuer(TOKEN, 60_000);
  const theirs = new StreamTicketIssuer('another-token-000000000000', 60_000);
  assert.deepEqual(mine.consume(theirs.issue(CALL, 0), 1), { ok: false, reason: 'forged' });
  const ticket = mine.issue(CALL, 0);
  const body = ticket.split('.')[0]!;
  const edited = Buffer.from(Buffer.from(body, 'base64url').toString().replace(CALL, 'CA' + 'b2'.repeat(16))).toString('base64url');
  assert.deepEqual(mine.consume(`${edited}.${ticket.split('.')[1]}`, 1), { ok: false, reason: 'forged' });
  assert.deepEqual(mine.consume('not-a-ticket', 1), { ok: false, reason: 'malformed' });
  assert.deepEqual(mine.consume('', 1), { ok: false, reason: 'malformed' });
});

test('tickets verify across processes (same token) and carry a traceparent', () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const a = new StreamTicketIssuer(TOKEN, 60_000);
  const b = new StreamTicketIssuer(TOKEN, 60_000);
  const result = b.consume(a.issue(CALL, 0, traceparent), 10);
  assert.ok(result.ok);
  assert.equal(result.claims.traceparent, traceparent);
});

test('the used-ticket ledger forgets expired tickets', () => {
  const ledger = new InMemoryTicketLedger();
  assert.ok(ledger.claim('n1', 100, 0));
  assert.ok(!ledger.claim('n1', 100, 50));
  ledger.claim('n2', 30_000, 20_000); // a claim after the sweep interval sweeps n1
  assert.equal(ledger.size, 1);
});
