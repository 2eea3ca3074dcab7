// Owns the voice webhook as Twilio sends it: the form fields of an inbound
// call, the signature over the PUBLIC url, the POST to the bridge's real
// (loopback) address, and reading the TwiML answer. Every part can be
// overridden so tests can send the bridge malformed or forged requests.

import { signWebhook } from './signing.js';
import { parseTwiml, type ParsedTwiml, type TwimlStream } from './twiml.js';

export const VOICE_PATH = '/twilio/voice';

export interface InboundCallFields {
  readonly callSid: string;
  readonly accountSid: string;
  readonly from?: string;
  readonly to?: string;
  /** Added after the standard fields (and may override them). */
  readonly extra?: Readonly<Record<string, string>>;
}

/** The form fields Twilio posts for a ringing inbound call. */
export function voiceWebhookParams(f: InboundCallFields): Record<string, string> {
  const from = f.from ?? '+14155550100';
  const to = f.to ?? '+14155550199';
  return {
    AccountSid: f.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: f.callSid,
    CallStatus: 'ringing',
    Called: to,
    Caller: from,
    Direction: 'inbound',
    From: from,
    To: to,
    ...f.extra,
  };
}

export interface PostVoiceWebhookOptions {
  /** Where the bridge really listens, e.g. http://127.0.0.1:8080. */
  readonly bridgeUrl: string;
  /** The public https origin Twilio believes it is calling, e.g. https://voice.example.com. */
  readonly publicUrl: string;
  readonly authToken: string;
  readonly params: Readonly<Record<string, string>>;
  /** Default /twilio/voice. */
  readonly path?: string;
  /** Replaces the computed signature; `null` sends no X-Twilio-Signature header at all. */
  readonly signature?: string | null;
  /** Replaces the form-encoded body (the signature is still computed over `params`). */
  readonly rawBody?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface VoiceWebhookResult {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: string;
  /** The parsed TwiML, when the answer was 2xx. */
  readonly twiml?: ParsedTwiml;
  /** The stream to connect to, when the TwiML holds a <Connect><Stream>. */
  readonly stream?: TwimlStream;
  /** The signature that was sent (undefined when none was). */
  readonly signature?: string;
}

function joinUrl(origin: string, path: string): string {
  return origin.replace(/\/+$/, '') + path;
}

export async function postVoiceWebhook(opts: PostVoiceWebhookOptions): Promise<VoiceWebhookResult> {
  const path = opts.path ?? VOICE_PATH;
  const signature =
    opts.signature === null ? undefined : (opts.signature ?? signWebhook(opts.authToken, joinUrl(opts.publicUrl, path), opts.params));
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    // Twilio's own webhook client; some stacks branch on it.
    'user-agent': 'TwilioProxy/1.1',
    accept: '*/*',
    ...(signature !== undefined ? { 'x-twilio-signature': signature } : {}),
    ...opts.headers,
  };
  const target = joinUrl(opts.bridgeUrl, path);
  let res: Response;
  try {
    res = await fetch(target, {
      method: 'POST',
      headers,
      body: opts.rawBody ?? new URLSearchParams(opts.params as Record<string, string>).toString(),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
  } catch (err) {
    // fetch says only "fetch failed"; the cause (ECONNREFUSED, timeout) is what a person needs.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new Error(`voice webhook POST ${target} failed: ${cause}`, { cause: err });
  }
  const body = await res.text();
  const result: VoiceWebhookResult = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body,
    ...(signature !== undefined ? { signature } : {}),
  };
  if (res.status < 200 || res.status >= 300) return result;
  const twiml = parseTwiml(body);
  return { ...result, twiml, ...(twiml.stream ? { stream: twiml.stream } : {}) };
}
