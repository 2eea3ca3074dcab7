// Owns parsing of the realtime server's events into typed shapes. Only the
// events the bridge acts on are modelled; anything else becomes `other` and is
// ignored. Every field used downstream is checked here. Pure: no I/O.
// An audio delta in the compact layout servers send is read straight from the
// socket's bytes (parseAudioDeltaFast); it must never accept what the JSON path
// rejects, nor return anything the JSON path would not, and anything unusual
// goes the JSON way.

export interface ResponseUsage {
  readonly inputTokens?: number;
  readonly outputTokens?: number;
}

export type ServerEvent =
  | { readonly type: 'session.created' }
  | { readonly type: 'session.updated' }
  | { readonly type: 'error'; readonly code: string; readonly message: string; readonly errorType: string }
  | { readonly type: 'input_audio_buffer.speech_started'; readonly itemId: string; readonly audioStartMs: number }
  | { readonly type: 'input_audio_buffer.speech_stopped'; readonly itemId: string; readonly audioEndMs: number }
  | { readonly type: 'input_audio_buffer.committed'; readonly itemId: string }
  | { readonly type: 'response.created'; readonly responseId: string }
  | {
      readonly type: 'response.output_audio.delta';
      readonly responseId: string;
      readonly itemId: string;
      /** Base64 audio in the session's output format, shape not yet checked. */
      readonly delta: string;
    }
  /** The item's audio is complete: all of it has been sent, whatever else the response still does. */
  | { readonly type: 'response.output_audio.done'; readonly responseId: string; readonly itemId: string }
  | { readonly type: 'response.done'; readonly responseId: string; readonly status: string; readonly usage: ResponseUsage }
  | { readonly type: 'conversation.item.input_audio_transcription.completed'; readonly itemId: string; readonly transcript: string }
  | { readonly type: 'response.output_audio_transcript.delta'; readonly responseId: string; readonly itemId: string; readonly delta: string }
  | { readonly type: 'response.output_audio_transcript.done'; readonly responseId: string; readonly itemId: string; readonly transcript: string }
  | {
      readonly type: 'response.function_call_arguments.done';
      readonly responseId: string;
      readonly itemId: string;
      readonly callId: string;
      readonly name: string;
      readonly arguments: string;
    }
  | { readonly type: 'other'; readonly name: string };

export type AudioDeltaEvent = Extract<ServerEvent, { readonly type: 'response.output_audio.delta' }>;

export type ServerEventParse = { ok: true; event: ServerEvent } | { ok: false; detail: string };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function num(o: Json, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

const bad = (detail: string): ServerEventParse => ({ ok: false, detail });
const ok = (event: ServerEvent): ServerEventParse => ({ ok: true, event });

/** Parses one text frame from the realtime server, as the socket's bytes or as text. */
export function parseServerEvent(frame: Buffer | string): ServerEventParse {
  if (typeof frame !== 'string') {
    const delta = parseAudioDeltaFast(frame);
    if (delta !== undefined) return ok(delta);
  }
  const text = typeof frame === 'string' ? frame : frame.toString();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return bad('not valid JSON');
  }
  if (!isObject(data) || typeof data.type !== 'string') return bad('no event type');
  const type = data.type;
  switch (type) {
    case 'response.output_audio.delta': {
      const responseId = str(data, 'response_id');
      const itemId = str(data, 'item_id');
      const delta = str(data, 'delta');
      if (responseId === undefined || itemId === undefined || delta === undefined) return bad(type);
      return ok({ type, responseId, itemId, delta });
    }
    case 'response.output_audio.done': {
      const responseId = str(data, 'response_id');
      const itemId = str(data, 'item_id');
      return responseId !== undefined && itemId !== undefined ? ok({ type, responseId, itemId }) : bad(type);
    }
    case 'session.created':
    case 'session.updated':
      return ok({ type });
    case 'error': {
      const error = isObject(data.error) ? data.error : {};
      return ok({
        type,
        code: str(error, 'code') ?? 'unknown',
        message: (str(error, 'message') ?? '').slice(0, 300),
        errorType: str(error, 'type') ?? 'unknown',
      });
    }
    case 'input_audio_buffer.speech_started':
      return ok({ type, itemId: str(data, 'item_id') ?? '', audioStartMs: num(data, 'audio_start_ms') ?? 0 });
    case 'input_audio_buffer.committed':
      return ok({ type, itemId: str(data, 'item_id') ?? '' });
    case 'input_audio_buffer.speech_stopped':
      return ok({ type, itemId: str(data, 'item_id') ?? '', audioEndMs: num(data, 'audio_end_ms') ?? 0 });
    case 'response.created': {
      const response = isObject(data.response) ? data.response : undefined;
      const responseId = response && str(response, 'id');
      return responseId ? ok({ type, responseId }) : bad(type);
    }
    case 'response.done': {
      const response = isObject(data.response) ? data.response : undefined;
      const responseId = response && str(response, 'id');
      if (!response || !responseId) return bad(type);
      const usage = isObject(response.usage) ? response.usage : {};
      const inputTokens = num(usage, 'input_tokens');
      const outputTokens = num(usage, 'output_tokens');
      return ok({
        type,
        responseId,
        status: str(response, 'status') ?? 'unknown',
        usage: { ...(inputTokens === undefined ? {} : { inputTokens }), ...(outputTokens === undefined ? {} : { outputTokens }) },
      });
    }
    case 'conversation.item.input_audio_transcription.completed': {
      const itemId = str(data, 'item_id');
      const transcript = str(data, 'transcript');
      return itemId !== undefined && transcript !== undefined ? ok({ type, itemId, transcript }) : bad(type);
    }
    case 'response.output_audio_transcript.delta': {
      const responseId = str(data, 'response_id');
      const itemId = str(data, 'item_id');
      const delta = str(data, 'delta');
      return responseId !== undefined && itemId !== undefined && delta !== undefined ? ok({ type, responseId, itemId, delta }) : bad(type);
    }
    case 'response.output_audio_transcript.done': {
      const responseId = str(data, 'response_id');
      const itemId = str(data, 'item_id');
      const transcript = str(data, 'transcript');
      return responseId !== undefined && itemId !== undefined && transcript !== undefined
        ? ok({ type, responseId, itemId, transcript })
        : bad(type);
    }
    case 'response.output_item.done': {
      // A finished function_call item carries the whole call: a second, independent source for tool calls.
      const item = isObject(data.item) ? data.item : undefined;
      if (!item || item.type !== 'function_call') return ok({ type: 'other', name: type });
      const responseId = str(data, 'response_id') ?? '';
      const itemId = str(item, 'id') ?? '';
      const callId = str(item, 'call_id');
      const name = str(item, 'name');
      const args = str(item, 'arguments');
      if (!callId || !name || args === undefined) return bad(type);
      return ok({ type: 'response.function_call_arguments.done', responseId, itemId, callId, name, arguments: args });
    }
    case 'response.function_call_arguments.done': {
      const responseId = str(data, 'response_id');
      const itemId = str(data, 'item_id');
      const callId = str(data, 'call_id');
      const name = str(data, 'name');
      const args = str(data, 'arguments');
      // Without a name this event cannot be acted on; the item's own done event (above) carries it.
      if (!responseId || !itemId || !callId || !name || args === undefined) return ok({ type: 'other', name: type });
      return ok({ type, responseId, itemId, callId, name, arguments: args });
    }
    default:
      return ok({ type: 'other', name: type.slice(0, 80) });
  }
}

// --- the audio delta fast path -------------------------------------------------
//
// Accepts exactly, byte for byte and with nothing after the last brace:
//   {<field>,<field>,…}   each key at most once, in any order, where <field> is one of
//   "type":"response.output_audio.delta"   (required)
//   "response_id":"<s>"  "item_id":"<s>"  "delta":"<s>"   (required)
//   "event_id":"<s>"  "obfuscation":"<s>"  "output_index":<n>  "content_index":<n>   (optional)
//   <s> = printable ASCII (0x20–0x7e) other than " and \;  <n> = 0 or [1-9][0-9]{0,14}
// Every byte of an accepted frame is ASCII with no escapes or whitespace, so each
// string's JSON value is its latin1 decoding, and an accepted frame has the JSON
// path's required fields with the same values. Everything else (escapes,
// whitespace, other keys or types, repeats) returns undefined for the JSON path.
// The delta's ~1.3 KB are checked four bytes at a time: byte by byte, that
// check alone costs most of what JSON.parse does.

const QUOTE = 0x22;
const COMMA = 0x2c;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

// Keys with their quotes and colon; a key's index is its bit in `seen`.
const TYPE = 0;
const RESPONSE_ID = 1;
const ITEM_ID = 2;
const DELTA = 3;
const EVENT_ID = 4;
const OBFUSCATION = 5;
const OUTPUT_INDEX = 6;
const CONTENT_INDEX = 7;
const KEYS = ['"type":', '"response_id":', '"item_id":', '"delta":', '"event_id":', '"obfuscation":', '"output_index":', '"content_index":'].map(latin1);
const REQUIRED = (1 << TYPE) | (1 << RESPONSE_ID) | (1 << ITEM_ID) | (1 << DELTA);
const TYPE_VALUE = latin1('"response.output_audio.delta"');
/** What a byte is inside a string: 0x20–0x7e other than " and \ is PLAIN, " is END, anything else 0 (not read here). */
const PLAIN = 1;
const END = 2;
const STRING_BYTE = new Uint8Array(256);
for (let b = 0x20; b < 0x7f; b++) STRING_BYTE[b] = b === QUOTE ? END : b === BACKSLASH ? 0 : PLAIN;
/** A string's first bytes, up to this many, are checked one by one (ids end there); the rest of a longer one (the delta) four at a time. */
const SHORT_STRING = 32;

function matches(buf: Buffer, at: number, literal: Uint8Array): boolean {
  if (at + literal.length > buf.length) return false;
  for (let i = 0; i < literal.length; i++) if (buf[at + i] !== literal[i]) return false;
  return true;
}

/** Which of KEYS starts at `at` (its opening quote), else -1. */
function keyAt(buf: Buffer, at: number): number {
  let key: number;
  switch (buf[at + 1]) {
    case 0x74: key = TYPE; break; // t
    case 0x72: key = RESPONSE_ID; break; // r
    case 0x69: key = ITEM_ID; break; // i
    case 0x64: key = DELTA; break; // d
    case 0x65: key = EVENT_ID; break; // e
    case 0x6f: key = buf[at + 2] === 0x62 ? OBFUSCATION : OUTPUT_INDEX; break; // o: ob… or ou…
    case 0x63: key = CONTENT_INDEX; break; // c
    default: return -1;
  }
  return matches(buf, at, KEYS[key]!) ? key : -1;
}

/** Index of the quote closing the string whose first character is at `at`, if every byte before it is printable ASCII other than \; else -1. */
function stringEnd(buf: Buffer, at: number): number {
  const n = buf.length;
  const limit = Math.min(n, at + SHORT_STRING);
  for (let p = at; p < limit; p++) {
    const kind = STRING_BYTE[buf[p]!]!;
    if (kind !== PLAIN) return kind === END ? p : -1;
  }
  if (limit === n) return -1;
  const close = buf.indexOf(QUOTE, limit);
  if (close < 0) return -1;
  const escape = buf.indexOf(BACKSLASH, limit);
  return (escape < 0 || escape > close) && printableAscii(buf, limit, close) ? close : -1;
}

/**
 * Whether every byte in [from, to) is in 0x20–0x7e. For a byte b, the top bit
 * of b - 0x20 is set where b < 0x20 (it wraps) or b ≥ 0xa0, and that of b + 1
 * where 0x7f ≤ b ≤ 0xfe: one of them has it exactly where b is out of range.
 * Done on whole 32-bit words, a borrow or carry leaves only a byte that is out
 * of range itself and can only flag the byte above it, so "any top bit set" is
 * exact, four bytes at a time.
 */
function printableAscii(buf: Buffer, from: number, to: number): boolean {
  // A view, not a copy: the one small object this check allocates.
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let flags = 0;
  let other = 0;
  let p = from;
  // Four words per turn into two accumulators: the loop overhead is most of the cost otherwise.
  for (; p + 16 <= to; p += 16) {
    const w0 = view.getInt32(p, true);
    const w1 = view.getInt32(p + 4, true);
    const w2 = view.getInt32(p + 8, true);
    const w3 = view.getInt32(p + 12, true);
    flags |= ((w0 - 0x20202020) | 0) | ((w0 + 0x01010101) | 0) | ((w1 - 0x20202020) | 0) | ((w1 + 0x01010101) | 0);
    other |= ((w2 - 0x20202020) | 0) | ((w2 + 0x01010101) | 0) | ((w3 - 0x20202020) | 0) | ((w3 + 0x01010101) | 0);
  }
  for (; p < to; p++) flags |= (buf[p]! - 0x20) | (buf[p]! + 1);
  return ((flags | other) & 0x80808080) === 0;
}

/** End of the JSON integer (0 or [1-9] and up to 14 more digits) at `at`, else -1. */
function integerEnd(buf: Buffer, at: number): number {
  const first = buf[at];
  if (first === 0x30) return at + 1;
  if (first === undefined || first < 0x31 || first > 0x39) return -1;
  const limit = Math.min(buf.length, at + 15);
  let p = at + 1;
  while (p < limit && buf[p]! >= 0x30 && buf[p]! <= 0x39) p++;
  return p;
}

// Value offsets of the frame being read (response_id, item_id, delta: start and end); reused so a frame costs only its result.
const spans = new Uint32Array(6);

/**
 * The audio delta in `buf` if it is in the compact layout above and valid;
 * else undefined, and the caller takes the JSON path (which decides validity).
 * Allocates the event and its three strings (the delta's is the one large) and, for the delta, a DataView.
 */
export function parseAudioDeltaFast(buf: Buffer): AudioDeltaEvent | undefined {
  const n = buf.length;
  if (n < 2 || buf[0] !== OPEN || buf[n - 1] !== CLOSE) return undefined;
  let seen = 0;
  let p = 1;
  for (;;) {
    if (buf[p] !== QUOTE) return undefined;
    const key = keyAt(buf, p);
    if (key < 0 || (seen & (1 << key)) !== 0) return undefined;
    seen |= 1 << key;
    p += KEYS[key]!.length;
    if (key === TYPE) {
      if (!matches(buf, p, TYPE_VALUE)) return undefined;
      p += TYPE_VALUE.length;
    } else if (key === OUTPUT_INDEX || key === CONTENT_INDEX) {
      p = integerEnd(buf, p);
      if (p < 0) return undefined;
    } else {
      if (buf[p] !== QUOTE) return undefined;
      const close = stringEnd(buf, p + 1);
      if (close < 0) return undefined;
      if (key <= DELTA) {
        spans[2 * (key - 1)] = p + 1;
        spans[2 * (key - 1) + 1] = close;
      }
      p = close + 1;
    }
    if (buf[p] === COMMA) p++;
    else if (p === n - 1) break; // the closing brace, checked on entry
    else return undefined;
  }
  if ((seen & REQUIRED) !== REQUIRED) return undefined;
  return {
    type: 'response.output_audio.delta',
    responseId: buf.toString('latin1', spans[0]!, spans[1]!),
    itemId: buf.toString('latin1', spans[2]!, spans[3]!),
    delta: buf.toString('latin1', spans[4]!, spans[5]!),
  };
}
