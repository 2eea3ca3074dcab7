// Log hygiene: plant every kind of secret the bridge handles into log calls of
// every shape (structured fields, headers, nested config, errors, free text,
// Fastify request logs) at debug level, then scan every emitted line for the
// planted values. Any hit fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { createLogger, callLogger, loggerOptions, scrubText } from '../src/telemetry/logging.js';
import { maskPhone, redactTicketPath } from '../src/telemetry/redact.js';

const SECRETS = {
  apiKey: 'sk-proj-PLANTEDapikey0123456789abcdef',
  ekToken: 'ek_PLANTEDephemeral0123456789',
  twilioAuthToken: 'PLANTEDtwilioauthtoken0123456789',
  signature: 'PLANTEDsig+L/OH5YylLD5NRKLltdqw=',
  ticket: 'tkPLANTEDticket0123456789abcdef',
  // Twilio's webhook field: a credential for forwarding the call.
  callToken: 'eyJPLANTEDcalltoken0123456789abcdef',
};
const CALLER = '+14155550123';
const CALLED = '+18005551212';

function capture(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l !== '') };
}

function assertClean(lines: string[]): void {
  assert.ok(lines.length > 0, 'nothing was logged');
  const hits: string[] = [];
  for (const line of lines) {
    JSON.parse(line); // every line is JSON
    for (const [name, value] of Object.entries(SECRETS)) if (line.includes(value)) hits.push(`${name} in ${line}`);
    // Substrings long enough to identify the secret must not survive either.
    for (const [name, value] of Object.entries(SECRETS)) if (line.includes(value.slice(0, 16))) hits.push(`${name} (prefix) in ${line}`);
    for (const number of [CALLER, CALLED]) if (line.includes(number)) hits.push(`phone ${number} in ${line}`);
  }
  assert.deepEqual(hits, []);
}

test('planted secrets never survive, whatever shape they are logged in', () => {
  const { stream, lines } = capture();
  const log = createLogger({ level: 'debug' }, stream);
  const basic = Buffer.from(`ACxxxxxxxx:${SECRETS.twilioAuthToken}`).toString('base64');

  log.info({ req: { method: 'GET', url: `/twilio/stream/${SECRETS.ticket}`, headers: { 'x-twilio-signature': SECRETS.signature, authorization: `Bearer ${SECRETS.ekToken}` } } }, 'upgrade');
  log.debug({ config: { twilio: { authToken: SECRETS.twilioAuthToken }, openai: { apiKey: SECRETS.apiKey } } }, 'config loaded');
  log.debug({ token: SECRETS.ekToken, ticket: SECRETS.ticket, signature: SECRETS.signature }, 'minted');
  log.debug({ upstream: { headers: { authorization: `Bearer ${SECRETS.apiKey}` } } }, 'dialling');
  log.debug({ headers: { authorization: `Basic ${basic}`, 'x-twilio-signature': SECRETS.signature } }, 'twilio rest');
  log.error({ err: new Error(`Unexpected server response: 403 for wss://voice.example.com/twilio/stream/${SECRETS.ticket} (Bearer ${SECRETS.ekToken})`) }, 'connect failed');
  log.warn(`retrying with ${SECRETS.ekToken} after /twilio/stream/${SECRETS.ticket}`);
  log.info('key %s rejected', SECRETS.apiKey);
  log.info({ body: { CallSid: 'CA123', From: CALLER, To: CALLED, Caller: CALLER, Called: CALLED } }, 'webhook');
  log.info({ From: CALLER }, 'top-level number');
  log.debug({ fields: { CallSid: 'CA123', CallToken: SECRETS.callToken } }, 'voice webhook received');
  log.debug({ url: `/twilio/stream/${SECRETS.ticket}`, upstream: { url: `wss://api.example.com/v1/realtime?model=m` }, connect: { streamUrl: `wss://voice.example.com/twilio/stream/${SECRETS.ticket}` } }, 'urls');
  log.debug({ twiml: `<Response><Connect><Stream url="wss://voice.example.com/twilio/stream/${SECRETS.ticket}"/></Connect></Response>` }, 'answered');
  const call = callLogger(log, { callSid: 'CA123', streamSid: 'MZ456' });
  call.debug({ mint: { clientSecret: SECRETS.ekToken, value: 'ok' } }, 'session');

  const out = lines();
  assertClean(out);

  const parsed = out.map((l) => JSON.parse(l) as Record<string, unknown>);
  const webhook = parsed.find((p) => p.msg === 'webhook') as { body: Record<string, string> };
  assert.equal(webhook.body.From, '+1******0123');
  assert.equal(webhook.body.To, '+1******1212');
  assert.equal(webhook.body.CallSid, 'CA123');
  const upgrade = parsed.find((p) => p.msg === 'upgrade') as { req: { url: string; headers?: unknown } };
  assert.equal(upgrade.req.url, '/twilio/stream/[REDACTED]');
  assert.equal(upgrade.req.headers, undefined, 'the request serializer keeps no headers at all');
  const rest = parsed.find((p) => p.msg === 'twilio rest') as { headers: Record<string, string> };
  assert.deepEqual(rest.headers, { authorization: '[REDACTED]', 'x-twilio-signature': '[REDACTED]' });
  const session = parsed.find((p) => p.msg === 'session') as Record<string, unknown>;
  assert.deepEqual([session.callSid, session.streamSid], ['CA123', 'MZ456']);
  const failed = parsed.find((p) => p.msg === 'connect failed') as { err: { message: string } };
  assert.match(failed.err.message, /\/twilio\/stream\/\[REDACTED\]/);
});

test("Fastify's own request logs drop the ticket and the signature header", async () => {
  const { stream, lines } = capture();
  const app = Fastify({ logger: { ...loggerOptions({ level: 'debug' }), stream } });
  app.get('/twilio/stream/:ticket', async (request) => {
    request.log.debug({ headers: request.headers, params: request.params }, 'upgrade headers');
    callLogger(request.log, { callSid: 'CA9', streamSid: 'MZ9' }).info({ url: request.url }, 'call line');
    return { ok: true };
  });
  app.post('/twilio/voice', async (request) => {
    request.log.info({ body: request.body }, 'voice webhook');
    return 'ok';
  });
  const res = await app.inject({
    method: 'GET',
    url: `/twilio/stream/${SECRETS.ticket}`,
    headers: { 'x-twilio-signature': SECRETS.signature, authorization: `Bearer ${SECRETS.ekToken}` },
  });
  assert.equal(res.statusCode, 200);
  const hook = await app.inject({ method: 'POST', url: '/twilio/voice', payload: { From: CALLER, To: CALLED, CallSid: 'CA9' } });
  assert.equal(hook.statusCode, 200);
  await app.close();
  const out = lines();
  assertClean(out);
  assert.ok(out.some((l) => l.includes('"url":"/twilio/stream/[REDACTED]"')), 'the incoming-request line is still there, redacted');
  assert.ok(out.some((l) => l.includes('"From":"+1******0123"')));
  const callLine = out.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'call line');
  assert.deepEqual([callLine?.callSid, callLine?.streamSid, callLine?.url], ['CA9', 'MZ9', '/twilio/stream/[REDACTED]']);
});

test('phone masking is configurable', () => {
  for (const [mode, expected] of [
    ['last4', '+1******0123'],
    ['full', '+***********'],
    ['none', CALLER],
  ] as const) {
    const { stream, lines } = capture();
    createLogger({ level: 'info', phoneMasking: mode }, stream).info({ body: { From: CALLER } }, 'x');
    assert.equal((JSON.parse(lines()[0] as string) as { body: { From: string } }).body.From, expected);
  }
  assert.equal(maskPhone('client:alice'), '******:*lice');
  assert.equal(maskPhone('+442071838750'), '+4*******8750');
});

test('ticket and free-text scrubbing', () => {
  assert.equal(redactTicketPath('/twilio/stream/abc.def-123?x=1'), '/twilio/stream/[REDACTED]?x=1');
  assert.equal(redactTicketPath('wss://h/twilio/stream/abc/'), 'wss://h/twilio/stream/[REDACTED]/');
  assert.equal(redactTicketPath('/twilio/voice'), '/twilio/voice');
  assert.equal(scrubText('Authorization: Bearer ek_abcdefghijkl'), 'Authorization: Bearer [REDACTED]');
  assert.equal(scrubText('token ek_abcdefghijkl used'), 'token ek_[REDACTED] used');
});
