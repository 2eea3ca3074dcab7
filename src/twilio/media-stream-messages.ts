// Owns parsing of the messages Twilio sends on a Media Streams socket into
// typed shapes. Every field the bridge uses is checked here; nothing past this
// module touches raw JSON from Twilio. Pure: no I/O, no logging.

export interface StartMessage {
  readonly event: 'start';
  readonly streamSid: string;
  readonly callSid: string;
  readonly accountSid: string;
  readonly tracks: readonly string[];
  readonly mediaFormat: { readonly encoding: string; readonly sampleRate: number; readonly channels: number };
  readonly customParameters: Readonly<Record<string, string>>;
}

export interface MediaMessage {
  readonly event: 'media';
  readonly streamSid: string;
  readonly track: string;
  /** Milliseconds since the stream started, per Twilio's clock. */
  readonly timestamp: number;
  readonly chunk: number;
  /** Base64 text of μ-law bytes, shape-checked but not yet decoded. */
  readonly payload: string;
}

export interface MarkMessage {
  readonly event: 'mark';
  readonly streamSid: string;
  readonly name: string;
}

export interface DtmfMessage {
  readonly event: 'dtmf';
  readonly streamSid: string;
  readonly digit: string;
}

export interface StopMessage {
  readonly event: 'stop';
  readonly streamSid: string;
}

export interface ConnectedMessage {
  readonly event: 'connected';
}

export type TwilioMessage = ConnectedMessage | StartMessage | MediaMessage | MarkMessage | DtmfMessage | StopMessage;

export type ParseFailure = 'bad_json' | 'not_an_object' | 'unknown_event' | 'bad_field' | 'bad_base64';
export type ParseResult = { ok: true; message: TwilioMessage } | { ok: false; reason: ParseFailure; detail: string };

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;
// Standard base64 with padding, as Twilio sends it; checked before decoding
// because Buffer.from(…, 'base64') silently skips garbage. A character class
// plus a length check is linear and about half the cost of a grouped pattern.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DIGIT = /^[0-9*#A-D]$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(reason: ParseFailure, detail: string): ParseResult {
  return { ok: false, reason, detail };
}

/** Twilio sends numbers as strings ("5"); accept a canonical non-negative integer either way. */
function count(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value);
  return undefined;
}

function sid(value: unknown): string | undefined {
  return typeof value === 'string' && SID.test(value) ? value : undefined;
}

export function parseTwilioMessage(text: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return fail('bad_json', 'not valid JSON');
  }
  if (!isObject(data)) return fail('not_an_object', 'top level is not an object');
  switch (data.event) {
    case 'media':
      return parseMedia(data);
    case 'mark':
      return parseMark(data);
    case 'start':
      return parseStart(data);
    case 'stop': {
      const streamSid = sid(data.streamSid);
      return streamSid ? { ok: true, message: { event: 'stop', streamSid } } : fail('bad_field', 'stop.streamSid');
    }
    case 'dtmf': {
      const streamSid = sid(data.streamSid);
      const dtmf = data.dtmf;
      if (!streamSid || !isObject(dtmf) || typeof dtmf.digit !== 'string' || !DIGIT.test(dtmf.digit)) {
        return fail('bad_field', 'dtmf');
      }
      return { ok: true, message: { event: 'dtmf', streamSid, digit: dtmf.digit } };
    }
    case 'connected':
      return { ok: true, message: { event: 'connected' } };
    default:
      return fail('unknown_event', typeof data.event === 'string' ? data.event.slice(0, 40) : 'missing event');
  }
}

function parseMedia(data: Json): ParseResult {
  const streamSid = sid(data.streamSid);
  const media = data.media;
  if (!streamSid || !isObject(media)) return fail('bad_field', 'media');
  const timestamp = count(media.timestamp);
  const chunk = count(media.chunk);
  const track = media.track ?? 'inbound';
  if (timestamp === undefined || chunk === undefined || typeof track !== 'string') return fail('bad_field', 'media.timestamp/chunk/track');
  const payload = media.payload;
  if (typeof payload !== 'string') return fail('bad_field', 'media.payload');
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) return fail('bad_base64', 'media.payload');
  return { ok: true, message: { event: 'media', streamSid, track, timestamp, chunk, payload } };
}

function parseMark(data: Json): ParseResult {
  const streamSid = sid(data.streamSid);
  const mark = data.mark;
  if (!streamSid || !isObject(mark) || typeof mark.name !== 'string' || mark.name.length > 256) return fail('bad_field', 'mark');
  return { ok: true, message: { event: 'mark', streamSid, name: mark.name } };
}

function parseStart(data: Json): ParseResult {
  const start = data.start;
  if (!isObject(start)) return fail('bad_field', 'start');
  const streamSid = sid(start.streamSid) ?? sid(data.streamSid);
  const callSid = sid(start.callSid);
  const accountSid = sid(start.accountSid);
  const format = start.mediaFormat;
  if (!streamSid || !callSid || !accountSid || !isObject(format)) return fail('bad_field', 'start.streamSid/callSid/accountSid/mediaFormat');
  if (typeof format.encoding !== 'string' || typeof format.sampleRate !== 'number' || typeof format.channels !== 'number') {
    return fail('bad_field', 'start.mediaFormat');
  }
  const tracks = Array.isArray(start.tracks) && start.tracks.every((t) => typeof t === 'string') ? (start.tracks as string[]) : ['inbound'];
  const customParameters: Record<string, string> = {};
  if (isObject(start.customParameters)) {
    for (const [k, v] of Object.entries(start.customParameters)) if (typeof v === 'string') customParameters[k] = v;
  }
  return {
    ok: true,
    message: {
      event: 'start',
      streamSid,
      callSid,
      accountSid,
      tracks,
      mediaFormat: { encoding: format.encoding, sampleRate: format.sampleRate, channels: format.channels },
      customParameters,
    },
  };
}
