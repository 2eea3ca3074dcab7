// Owns validation of what the bridge sends to "Twilio": media, mark, clear.
// Anything Twilio would reject (warning 31951: bad JSON, unknown event, wrong
// streamSid) or could not play (payload that is not base64) becomes a typed
// violation instead of an exception, so tests can assert there are none.

export interface BridgeMedia {
  readonly event: 'media';
  /** Decoded μ-law bytes (one byte per 8 kHz sample). */
  readonly audio: Buffer;
}
export interface BridgeMark {
  readonly event: 'mark';
  readonly name: string;
}
export interface BridgeClear {
  readonly event: 'clear';
}
export type BridgeMessage = BridgeMedia | BridgeMark | BridgeClear;

export type ViolationKind =
  | 'binary-frame'
  | 'bad-json'
  | 'not-an-object'
  | 'unknown-event'
  | 'wrong-stream-sid'
  | 'bad-media'
  | 'bad-mark'
  | 'after-stop';

export interface ProtocolViolation {
  /** Milliseconds since stream start (negative: before the start message was sent). */
  readonly atMs: number;
  readonly kind: ViolationKind;
  readonly detail: string;
  /** The first 200 characters of the offending message. */
  readonly raw: string;
}

export type ParseResult = { readonly ok: true; readonly message: BridgeMessage } | { readonly ok: false; readonly kind: ViolationKind; readonly detail: string };

// Standard alphabet, padded, as Twilio expects; whitespace or URL-safe
// characters would be silently mangled by Buffer's lenient decoder. Checked
// with a plain character scan rather than a grouped regex so a large payload
// cannot exhaust the regex backtracking stack.
const NOT_BASE64 = /[^A-Za-z0-9+/]/;

function isStrictBase64(s: string): boolean {
  if (s.length % 4 !== 0) return false;
  const body = s.endsWith('==') ? s.slice(0, -2) : s.endsWith('=') ? s.slice(0, -1) : s;
  return !NOT_BASE64.test(body);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates one text frame from the bridge against the stream it belongs to. */
export function parseBridgeMessage(text: string, streamSid: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, kind: 'bad-json', detail: 'not valid JSON' };
  }
  if (!isRecord(value)) return { ok: false, kind: 'not-an-object', detail: 'JSON is not an object' };
  const event = value['event'];
  if (event !== 'media' && event !== 'mark' && event !== 'clear') {
    return { ok: false, kind: 'unknown-event', detail: `event ${JSON.stringify(event)} is not media, mark or clear` };
  }
  if (value['streamSid'] !== streamSid) {
    return { ok: false, kind: 'wrong-stream-sid', detail: `streamSid ${JSON.stringify(value['streamSid'])} for a ${event}` };
  }
  if (event === 'clear') return { ok: true, message: { event } };
  if (event === 'mark') {
    const mark = value['mark'];
    const name = isRecord(mark) ? mark['name'] : undefined;
    if (typeof name !== 'string') return { ok: false, kind: 'bad-mark', detail: 'mark.name is missing or not a string' };
    return { ok: true, message: { event, name } };
  }
  const media = value['media'];
  const payload = isRecord(media) ? media['payload'] : undefined;
  if (typeof payload !== 'string') return { ok: false, kind: 'bad-media', detail: 'media.payload is missing or not a string' };
  if (!isStrictBase64(payload)) return { ok: false, kind: 'bad-media', detail: 'media.payload is not padded standard base64' };
  return { ok: true, message: { event, audio: Buffer.from(payload, 'base64') } };
}
