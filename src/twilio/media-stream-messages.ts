// Owns parsing of the messages Twilio sends on a Media Streams socket into
// typed shapes. Every field the bridge uses is checked here; nothing past this
// module touches raw JSON from Twilio. Pure: no I/O, no logging.
// A `media` message in Twilio's fixed layout is read straight from the socket's
// bytes (parseMediaFast); it must never accept what the JSON path rejects, nor
// return anything the JSON path would not, and anything unusual goes the JSON way.

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

/** Parses one Media Streams text frame, as the socket's bytes or as text. */
export function parseTwilioMessage(frame: Buffer | string): ParseResult {
  if (typeof frame !== 'string') {
    const media = parseMediaFast(frame);
    if (media !== undefined) return { ok: true, message: media };
  }
  const text = typeof frame === 'string' ? frame : frame.toString();
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

// --- the media fast path -------------------------------------------------------
//
// Accepts exactly, byte for byte and with nothing after the last brace:
//   {"event":"media",["sequenceNumber":"<digits>",]"streamSid":"<sid>","media":{<m>}}
//   {"event":"media",["sequenceNumber":"<digits>",]"media":{<m>},"streamSid":"<sid>"}
//   <m> = "track":"<printable ASCII, no quote or backslash>","chunk":"<digits>","timestamp":"<digits>","payload":"<base64>"
// The first order is what our simulator and load generator send, the second is
// Twilio's. Every byte of an accepted frame is ASCII with no escapes or
// whitespace, so its JSON meaning is its bytes and the checks below mirror the
// slow path's field by field (SID, /^\d{1,15}$/, string track, BASE64 + length).

const DIGIT_BIT = 1;
const HEX_BIT = 2;
const UPPER_BIT = 4;
const BASE64_BIT = 8;
const TRACK_BIT = 16;
/** Character classes by byte, one lookup per byte on the hot loop. */
const CLASS = new Uint8Array(256);
for (let b = 0x20; b < 0x7f; b++) if (b !== 0x22 && b !== 0x5c) CLASS[b]! |= TRACK_BIT;
for (let b = 0x30; b <= 0x39; b++) CLASS[b]! |= DIGIT_BIT | HEX_BIT | BASE64_BIT;
for (let b = 0x41; b <= 0x5a; b++) CLASS[b]! |= UPPER_BIT | BASE64_BIT | (b <= 0x46 ? HEX_BIT : 0);
for (let b = 0x61; b <= 0x7a; b++) CLASS[b]! |= BASE64_BIT | (b <= 0x66 ? HEX_BIT : 0);
CLASS[0x2b]! |= BASE64_BIT; // +
CLASS[0x2f]! |= BASE64_BIT; // /

const QUOTE = 0x22;
const EQUALS = 0x3d;
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HEAD = latin1('{"event":"media",');
const SEQUENCE = latin1('"sequenceNumber":"');
const SID_FIRST = latin1('"streamSid":"');
const MEDIA_THEN = latin1('","media":{"track":"');
const MEDIA_FIRST = latin1('"media":{"track":"');
const SID_THEN = latin1('},"streamSid":"');
const CHUNK = latin1('","chunk":"');
const TIMESTAMP = latin1('","timestamp":"');
const PAYLOAD = latin1('","payload":"');
const INBOUND = latin1('inbound');
const SID_LENGTH = 34;

function matches(buf: Buffer, at: number, literal: Uint8Array): boolean {
  if (at < 0 || at + literal.length > buf.length) return false;
  for (let i = 0; i < literal.length; i++) if (buf[at + i] !== literal[i]) return false;
  return true;
}

/** End of the 1–15 digits at `at` if a quote closes them, else -1. */
function digitsEnd(buf: Buffer, at: number): number {
  const limit = Math.min(buf.length, at + 16);
  let p = at;
  while (p < limit && (CLASS[buf[p]!]! & DIGIT_BIT) !== 0) p++;
  return p > at && p - at <= 15 && buf[p] === QUOTE ? p : -1;
}

/** At most 15 digits: always a safe integer, equal to Number() of the text. */
function digitsValue(buf: Buffer, from: number, to: number): number {
  let value = 0;
  for (let p = from; p < to; p++) value = value * 10 + (buf[p]! - 0x30);
  return value;
}

/** Whether a SID (two capitals, 32 hex digits) and its closing quote sit at `at`. */
function sidAt(buf: Buffer, at: number): boolean {
  if (at + SID_LENGTH >= buf.length) return false;
  if ((CLASS[buf[at]!]! & CLASS[buf[at + 1]!]! & UPPER_BIT) === 0) return false;
  for (let p = at + 2; p < at + SID_LENGTH; p++) if ((CLASS[buf[p]!]! & HEX_BIT) === 0) return false;
  return buf[at + SID_LENGTH] === QUOTE;
}

/** End (the closing quote) of the media object's fields starting with the track text at `at`, else -1; fills `fields`. */
function mediaFieldsEnd(buf: Buffer, at: number, fields: Uint32Array): number {
  const n = buf.length;
  let p = at;
  while (p < n && (CLASS[buf[p]!]! & TRACK_BIT) !== 0) p++;
  fields[0] = p; // track end
  if (!matches(buf, p, CHUNK)) return -1;
  const chunkAt = p + CHUNK.length;
  const chunkEnd = digitsEnd(buf, chunkAt);
  if (!matches(buf, chunkEnd, TIMESTAMP)) return -1;
  const tsAt = chunkEnd + TIMESTAMP.length;
  const tsEnd = digitsEnd(buf, tsAt);
  if (!matches(buf, tsEnd, PAYLOAD)) return -1;
  const payloadAt = tsEnd + PAYLOAD.length;
  // Whole quads of base64 characters, then the closing quote or one last padded
  // quad (XXX= or XX==) and the quote: exactly BASE64 with length % 4 === 0.
  p = payloadAt;
  while (p + 4 <= n && (CLASS[buf[p]!]! & CLASS[buf[p + 1]!]! & CLASS[buf[p + 2]!]! & CLASS[buf[p + 3]!]! & BASE64_BIT) !== 0) p += 4;
  if (buf[p] !== QUOTE) {
    const padded =
      p + 4 < n &&
      (CLASS[buf[p]!]! & CLASS[buf[p + 1]!]! & BASE64_BIT) !== 0 &&
      ((CLASS[buf[p + 2]!]! & BASE64_BIT) !== 0 || buf[p + 2] === EQUALS) &&
      buf[p + 3] === EQUALS &&
      buf[p + 4] === QUOTE;
    if (!padded) return -1;
    p += 4;
  }
  fields[1] = chunkAt;
  fields[2] = chunkEnd;
  fields[3] = tsAt;
  fields[4] = tsEnd;
  fields[5] = payloadAt;
  return p;
}

// Field offsets of the frame being read; reused so a frame costs only its result (track end, chunk, timestamp, payload start).
const fields = new Uint32Array(6);

/**
 * The media message in `buf` if it is in Twilio's fixed layout and valid; else
 * undefined, and the caller takes the JSON path (which decides validity).
 * Allocates only the message and its strings.
 */
export function parseMediaFast(buf: Buffer): MediaMessage | undefined {
  if (!matches(buf, 0, HEAD)) return undefined;
  let p = HEAD.length;
  if (matches(buf, p, SEQUENCE)) {
    const end = digitsEnd(buf, p + SEQUENCE.length);
    if (end < 0 || buf[end + 1] !== 0x2c) return undefined; // ,
    p = end + 2;
  }
  let sidStart: number;
  let trackAt: number;
  let close: number;
  if (matches(buf, p, SID_FIRST)) {
    sidStart = p + SID_FIRST.length;
    if (!sidAt(buf, sidStart)) return undefined;
    // MEDIA_THEN starts with the SID's closing quote.
    if (!matches(buf, sidStart + SID_LENGTH, MEDIA_THEN)) return undefined;
    trackAt = sidStart + SID_LENGTH + MEDIA_THEN.length;
    close = mediaFieldsEnd(buf, trackAt, fields);
    // "}}" and nothing after.
    if (close < 0 || close + 3 !== buf.length || buf[close + 1] !== 0x7d || buf[close + 2] !== 0x7d) return undefined;
  } else if (matches(buf, p, MEDIA_FIRST)) {
    trackAt = p + MEDIA_FIRST.length;
    close = mediaFieldsEnd(buf, trackAt, fields);
    if (close < 0 || !matches(buf, close + 1, SID_THEN)) return undefined;
    sidStart = close + 1 + SID_THEN.length;
    // The SID, its quote, "}" and nothing after.
    if (!sidAt(buf, sidStart) || sidStart + SID_LENGTH + 2 !== buf.length || buf[sidStart + SID_LENGTH + 1] !== 0x7d) return undefined;
  } else {
    return undefined;
  }
  const trackEnd = fields[0]!;
  return {
    event: 'media',
    streamSid: buf.toString('latin1', sidStart, sidStart + SID_LENGTH),
    track: trackEnd - trackAt === INBOUND.length && matches(buf, trackAt, INBOUND) ? 'inbound' : buf.toString('latin1', trackAt, trackEnd),
    timestamp: digitsValue(buf, fields[3]!, fields[4]!),
    chunk: digitsValue(buf, fields[1]!, fields[2]!),
    payload: buf.toString('latin1', fields[5]!, close),
  };
}
