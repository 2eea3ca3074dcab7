// Owns parsing of the realtime server's events into typed shapes. Only the
// events the bridge acts on are modelled; anything else becomes `other` and is
// ignored. Every field used downstream is checked here. Pure: no I/O.

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
  | { readonly type: 'response.done'; readonly responseId: string; readonly status: string; readonly usage: ResponseUsage }
  | { readonly type: 'conversation.item.input_audio_transcription.completed'; readonly itemId: string; readonly transcript: string }
  | { readonly type: 'response.output_audio_transcript.delta'; readonly itemId: string; readonly delta: string }
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

export function parseServerEvent(text: string): ServerEventParse {
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
      const itemId = str(data, 'item_id');
      const delta = str(data, 'delta');
      return itemId !== undefined && delta !== undefined ? ok({ type, itemId, delta }) : bad(type);
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
