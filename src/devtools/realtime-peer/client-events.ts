// Owns the typed parse of every event a client sends the peer. Input is an
// untrusted WebSocket text frame; output is either a fully checked event or
// a protocol error naming the offending parameter. Never throws, never
// touches session state: session.ts decides what a valid event means.

export type ClientItem =
  | { readonly type: 'message'; readonly id?: string; readonly role: 'user' | 'system'; readonly content: readonly { readonly type: 'input_text'; readonly text: string }[] }
  | { readonly type: 'message'; readonly id?: string; readonly role: 'assistant'; readonly content: readonly { readonly type: 'output_text'; readonly text: string }[] }
  | { readonly type: 'function_call_output'; readonly id?: string; readonly call_id: string; readonly output: string }
  | { readonly type: 'function_call'; readonly id?: string; readonly call_id: string; readonly name: string; readonly arguments: string };

export interface ResponseParams {
  readonly instructions?: string;
  readonly outputModalities?: readonly ('audio' | 'text')[];
  /** 'none' makes an out-of-band response whose items stay out of the conversation. */
  readonly conversation?: 'auto' | 'none';
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export type ClientEvent = { readonly event_id?: string } & (
  | { readonly type: 'session.update'; readonly session: Readonly<Record<string, unknown>> }
  /** `audio` is the base64 text as received (checked to be valid base64). */
  | { readonly type: 'input_audio_buffer.append'; readonly audio: string }
  | { readonly type: 'input_audio_buffer.commit' }
  | { readonly type: 'input_audio_buffer.clear' }
  | { readonly type: 'conversation.item.create'; readonly previous_item_id?: string | null; readonly item: ClientItem }
  | { readonly type: 'conversation.item.truncate'; readonly item_id: string; readonly content_index: number; readonly audio_end_ms: number }
  | { readonly type: 'conversation.item.delete'; readonly item_id: string }
  | { readonly type: 'conversation.item.retrieve'; readonly item_id: string }
  | { readonly type: 'response.create'; readonly response: ResponseParams }
  | { readonly type: 'response.cancel'; readonly response_id?: string }
);

export type ClientEventType = ClientEvent['type'];

export interface ProtocolError {
  readonly type: 'invalid_request_error';
  readonly code: string;
  readonly message: string;
  readonly param: string | null;
  readonly event_id: string | null;
}

export type ParseResult =
  | { readonly ok: true; readonly event: ClientEvent }
  | { readonly ok: false; readonly error: ProtocolError; /** The type field, when it was a string; for the record. */ readonly eventType: string | null };

class FieldError extends Error {
  constructor(readonly code: string, readonly param: string, message: string) {
    super(message);
  }
}

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown, param: string): Obj {
  if (!isObj(v)) throw new FieldError('invalid_type', param, `Invalid type for '${param}': expected an object.`);
  return v;
}

function str(o: Obj, key: string, param: string): string {
  const v = o[key];
  if (v === undefined) throw new FieldError('missing_required_parameter', `${param}.${key}`, `Missing required parameter: '${param}.${key}'.`);
  if (typeof v !== 'string') throw new FieldError('invalid_type', `${param}.${key}`, `Invalid type for '${param}.${key}': expected a string.`);
  return v;
}

function optStr(o: Obj, key: string, param: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key, param);
}

function nonNegInt(o: Obj, key: string, param: string): number {
  const v = o[key];
  if (v === undefined) throw new FieldError('missing_required_parameter', `${param}.${key}`, `Missing required parameter: '${param}.${key}'.`);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new FieldError('invalid_value', `${param}.${key}`, `Invalid value for '${param}.${key}': expected a non-negative integer.`);
  }
  return v;
}

// Base64 as the service accepts it; Buffer.from would silently skip junk.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function parseItem(v: unknown): ClientItem {
  const item = obj(v, 'item');
  const type = str(item, 'type', 'item');
  const id = optStr(item, 'id', 'item');
  const withId = id === undefined ? {} : { id };
  switch (type) {
    case 'message': {
      const role = str(item, 'role', 'item');
      const content = item['content'];
      if (!Array.isArray(content)) throw new FieldError('invalid_type', 'item.content', "Invalid type for 'item.content': expected an array.");
      if (role === 'user' || role === 'system') {
        const parts = content.map((p: unknown, i) => {
          const part = obj(p, `item.content[${i}]`);
          const partType = str(part, 'type', `item.content[${i}]`);
          if (partType !== 'input_text') {
            throw new FieldError('invalid_value', `item.content[${i}].type`, `The peer accepts only 'input_text' content in ${role} messages, got '${partType}'.`);
          }
          return { type: 'input_text' as const, text: str(part, 'text', `item.content[${i}]`) };
        });
        return { type: 'message', role, content: parts, ...withId };
      }
      if (role === 'assistant') {
        const parts = content.map((p: unknown, i) => {
          const part = obj(p, `item.content[${i}]`);
          const partType = str(part, 'type', `item.content[${i}]`);
          // Assistant audio cannot be injected (PROTOCOL.md §5); text is how history is replayed.
          if (partType !== 'output_text') {
            throw new FieldError('invalid_value', `item.content[${i}].type`, `Assistant messages accept only 'output_text' content, got '${partType}'.`);
          }
          return { type: 'output_text' as const, text: str(part, 'text', `item.content[${i}]`) };
        });
        return { type: 'message', role, content: parts, ...withId };
      }
      throw new FieldError('invalid_value', 'item.role', `Invalid value for 'item.role': '${role}'.`);
    }
    case 'function_call_output':
      return { type, call_id: str(item, 'call_id', 'item'), output: str(item, 'output', 'item'), ...withId };
    case 'function_call':
      return { type, call_id: str(item, 'call_id', 'item'), name: str(item, 'name', 'item'), arguments: str(item, 'arguments', 'item'), ...withId };
    default:
      throw new FieldError('invalid_value', 'item.type', `Invalid value for 'item.type': '${type}'.`);
  }
}

function parseResponseParams(v: unknown): ResponseParams {
  if (v === undefined) return {};
  const r = obj(v, 'response');
  const out: { -readonly [K in keyof ResponseParams]: ResponseParams[K] } = {};
  const instructions = optStr(r, 'instructions', 'response');
  if (instructions !== undefined) out.instructions = instructions;
  const mods = r['output_modalities'];
  if (mods !== undefined) {
    if (!Array.isArray(mods) || mods.length !== 1 || (mods[0] !== 'audio' && mods[0] !== 'text')) {
      throw new FieldError('invalid_value', 'response.output_modalities', "Invalid value for 'response.output_modalities': expected [\"audio\"] or [\"text\"].");
    }
    out.outputModalities = [mods[0]];
  }
  const conversation = r['conversation'];
  if (conversation !== undefined) {
    if (conversation !== 'auto' && conversation !== 'none') {
      throw new FieldError('invalid_value', 'response.conversation', "Invalid value for 'response.conversation': expected 'auto' or 'none'.");
    }
    out.conversation = conversation;
  }
  if (r['metadata'] !== undefined && r['metadata'] !== null) out.metadata = obj(r['metadata'], 'response.metadata');
  return out;
}

function parseBody(type: string, e: Obj): ClientEvent {
  switch (type) {
    case 'session.update':
      return { type, session: obj(e['session'], 'session') };
    case 'input_audio_buffer.append': {
      const audio = str(e, 'audio', 'event');
      if (!BASE64.test(audio) || audio.length % 4 === 1) throw new FieldError('invalid_value', 'audio', "Invalid value for 'audio': not valid base64.");
      return { type, audio };
    }
    case 'input_audio_buffer.commit':
    case 'input_audio_buffer.clear':
      return { type };
    case 'conversation.item.create': {
      const prev = e['previous_item_id'];
      if (prev !== undefined && prev !== null && typeof prev !== 'string') {
        throw new FieldError('invalid_type', 'previous_item_id', "Invalid type for 'previous_item_id': expected a string.");
      }
      return prev === undefined ? { type, item: parseItem(e['item']) } : { type, previous_item_id: prev, item: parseItem(e['item']) };
    }
    case 'conversation.item.truncate':
      return {
        type,
        item_id: str(e, 'item_id', 'event'),
        content_index: nonNegInt(e, 'content_index', 'event'),
        audio_end_ms: nonNegInt(e, 'audio_end_ms', 'event'),
      };
    case 'conversation.item.delete':
    case 'conversation.item.retrieve':
      return { type, item_id: str(e, 'item_id', 'event') };
    case 'response.create':
      return { type, response: parseResponseParams(e['response']) };
    case 'response.cancel': {
      const id = optStr(e, 'response_id', 'event');
      return id === undefined ? { type } : { type, response_id: id };
    }
    default:
      throw new FieldError('invalid_event', 'type', `Invalid value for 'type': unknown or unsupported event type '${type}'.`);
  }
}

/** Parses one text frame. Everything the peer needs from it is checked here. */
export function parseClientEvent(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, eventType: null, error: { type: 'invalid_request_error', code: 'invalid_json', message: 'The message is not valid JSON.', param: null, event_id: null } };
  }
  if (!isObj(raw)) {
    return { ok: false, eventType: null, error: { type: 'invalid_request_error', code: 'invalid_event', message: 'An event must be a JSON object.', param: null, event_id: null } };
  }
  const eventId = typeof raw['event_id'] === 'string' ? raw['event_id'] : null;
  const type = raw['type'];
  if (typeof type !== 'string') {
    return { ok: false, eventType: null, error: { type: 'invalid_request_error', code: 'invalid_event', message: "Missing required parameter: 'type'.", param: 'type', event_id: eventId } };
  }
  try {
    const event = parseBody(type, raw);
    return { ok: true, event: eventId === null ? event : { ...event, event_id: eventId } };
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    // Parameter paths are reported relative to the event, like the service does.
    const param = err.param.startsWith('event.') ? err.param.slice(6) : err.param;
    return { ok: false, eventType: type, error: { type: 'invalid_request_error', code: err.code, message: err.message.replace(/'event\./g, "'"), param, event_id: eventId } };
  }
}
