// Owns serialisation of the client events the bridge sends to the realtime
// server. Audio appends are assembled as strings on the hot path: the payload
// is base64 and needs no escaping.

export function appendAudio(base64: string): string {
  return `{"type":"input_audio_buffer.append","audio":"${base64}"}`;
}

export function truncateItem(itemId: string, audioEndMs: number): string {
  return JSON.stringify({ type: 'conversation.item.truncate', item_id: itemId, content_index: 0, audio_end_ms: Math.floor(audioEndMs) });
}

export function cancelResponse(): string {
  return '{"type":"response.cancel"}';
}

export function functionCallOutput(callId: string, output: unknown): string {
  return JSON.stringify({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output: JSON.stringify(output) } });
}

export function createResponse(): string {
  return '{"type":"response.create"}';
}
