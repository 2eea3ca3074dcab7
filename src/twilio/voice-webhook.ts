// Owns `POST /twilio/voice`: checks X-Twilio-Signature over PUBLIC_URL + path
// and every form field before anything else, then answers TwiML that connects
// the call to a bidirectional Media Stream at a per-call ticket URL.
// A refused request gets 403 and no TwiML. Never logs the signature, the
// ticket or the auth token.

import type { FastifyPluginAsync } from 'fastify';
import twilio from 'twilio';
import type { TwilioSignatureVerifier } from './signature.js';
import type { StreamTicketIssuer } from './stream-ticket.js';

export const VOICE_WEBHOOK_PATH = '/twilio/voice';
export const STREAM_PATH_PREFIX = '/twilio/stream/';

export interface VoiceWebhookOptions {
  readonly verifier: TwilioSignatureVerifier;
  readonly tickets: StreamTicketIssuer;
  readonly accountSid: string;
  readonly now: () => number;
  /** Verbs Twilio runs when the AI cannot take the call, or when the stream ends unexpectedly. */
  readonly fallbackVerbs: string;
  /**
   * Undefined when a new call may be admitted, and then its place is taken until its stream opens or its ticket
   * expires (so webhooks arriving together cannot all be admitted past the cap); otherwise why not (draining, full).
   */
  readonly refuseNewCall: (callSid: string) => string | undefined;
  /**
   * Called for every request that fails authentication, for metrics and abuse counting. Returns true when the
   * address is blocked for repeated failures: the request then gets a bare 429 and no log line of its own.
   */
  readonly onAuthFailure?: (reason: string, ip: string) => boolean;
  /** Starts the call's trace; its carrier travels in the ticket so the stream joins the same trace. */
  readonly startCall?: (callSid: string) => {
    readonly carrier: string;
    readonly spanContext: { readonly traceId: string; readonly spanId: string };
    end(outcome: 'rejected'): void;
  };
}

const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

/** Every field as a string, as Twilio signs them; repeated fields keep their array form for the check. */
function formFields(body: unknown): Record<string, string> | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string') fields[key] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) fields[key] = value as unknown as string;
    else return undefined;
  }
  return fields;
}

/** Twilio caps a Parameter's name + value at 500 characters. */
function parameterValue(value: string | undefined): string | undefined {
  return value !== undefined && value.length > 0 && value.length < 400 ? value : undefined;
}

export const voiceWebhook: FastifyPluginAsync<VoiceWebhookOptions> = async (app, opts) => {
  app.post(VOICE_WEBHOOK_PATH, async (request, reply) => {
    const signature = request.headers['x-twilio-signature'];
    const fields = formFields(request.body ?? {});
    // Phone-number fields and the signature header are masked by the logger's redaction rules.
    request.log.debug({ fields, headers: request.headers }, 'voice webhook received');
    const check = fields
      ? // Path and query as requested (a Voice URL may carry a query string), on the configured public origin.
        opts.verifier.checkWebhook(typeof signature === 'string' ? signature : undefined, request.url, fields)
      : ({ ok: false, reason: 'invalid' } as const);
    // A blocked address decides how many requests it sends, not how many lines we log: one line when it was blocked.
    const refuse = (reason: string, line: string) => {
      if (opts.onAuthFailure?.(reason, request.ip) === true) return reply.code(429).header('connection', 'close').send();
      request.log.warn({ reason }, line);
      return reply.code(403).type('text/plain').send('Forbidden');
    };
    if (!check.ok) return refuse(`webhook_signature_${check.reason}`, 'refused voice webhook: signature check failed');
    const callSid = fields!.CallSid;
    if (fields!.AccountSid !== opts.accountSid) return refuse('webhook_account_mismatch', 'refused voice webhook: AccountSid is not this account');
    if (callSid === undefined || !CALL_SID.test(callSid)) {
      request.log.warn('refused voice webhook: missing or malformed CallSid');
      return reply.code(400).type('text/plain').send('Bad Request');
    }
    const root = opts.startCall?.(callSid);
    // From here on the webhook's lines belong to the call's trace.
    const log = root?.carrier ? request.log.child({ trace_id: root.spanContext.traceId, span_id: root.spanContext.spanId }) : request.log;
    const refusal = opts.refuseNewCall(callSid);
    if (refusal !== undefined) {
      root?.end('rejected');
      // Still valid TwiML, never a 5xx: Twilio would play its generic error to the caller.
      log.warn({ callSid, refusal }, 'voice webhook: call sent to the fallback');
      return reply.type('text/xml').send(`<?xml version="1.0" encoding="UTF-8"?><Response>${opts.fallbackVerbs}</Response>`);
    }
    const ticket = opts.tickets.issue(callSid, opts.now(), root?.carrier || undefined);
    const response = new twilio.twiml.VoiceResponse();
    const stream = response.connect().stream({ url: opts.verifier.streamUrl(STREAM_PATH_PREFIX + ticket) });
    stream.parameter({ name: 'callSid', value: callSid });
    // Only what the session uses travels: phone numbers stay out of the stream (and out of its logs).
    const direction = parameterValue(fields!.Direction);
    if (direction !== undefined) stream.parameter({ name: 'direction', value: direction });
    // Verbs after <Connect> run only if the stream ends while the call is up (a crash, a closed socket):
    // the caller then hears the fallback instead of dead air.
    const twiml = response.toString().replace(/<\/Response>$/, `${opts.fallbackVerbs}</Response>`);
    log.info({ callSid }, 'voice webhook accepted; connecting media stream');
    log.debug({ callSid, twiml }, 'voice webhook answer');
    return reply.type('text/xml').send(twiml);
  });
};
