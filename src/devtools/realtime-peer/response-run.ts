// Owns one response from response.created to response.done: its output item
// (an assistant audio or text message, or a function call), the sequence of
// events the service sends for it, paced streaming, cancellation, and the
// response object's wire form. It never decides when a response starts or
// what it says: session.ts chooses the reply and owns the conversation.

import { bytesPerSample, durationMs, sampleRateOf } from './audio-format.js';
import type { ResponseParams } from './client-events.js';
import { snapshotItem, type Conversation, type ConversationItem } from './conversation.js';
import type { ResponseAudioInfo, ToolCallInfo } from './recording.js';
import type { PeerReply, ReplyAudioLibrary } from './reply.js';
import { ResponseStream, type Pacing } from './response-stream.js';
import type { SessionConfig } from './session-config.js';

export type ServerEventBody = { readonly type: string } & Record<string, unknown>;
export type ResponseKind = 'audio' | 'text' | 'function_call';
export type ResponseEnd = { readonly status: 'completed' } | { readonly status: 'cancelled'; readonly reason: 'turn_detected' | 'client_cancelled' };

/** What a response needs from its session. */
export interface ResponseHost {
  send(body: ServerEventBody, audioBytes?: number): void;
  readonly conversation: Conversation;
  /** The session's configuration as it is now. */
  config(): SessionConfig;
  readonly conversationId: string;
  readonly audio: ReplyAudioLibrary;
  readonly pacing: Pacing;
  readonly defaultTranscript: string;
  newId(prefix: string): string;
  /** After each audio delta is sent. */
  audioSent(info: ResponseAudioInfo): void;
  /** After function_call_arguments.done is sent. */
  toolCallSent(info: ToolCallInfo): void;
  /** After response.done is sent (also for cancellations). */
  done(run: ResponseRun, end: ResponseEnd): void;
}

export class ResponseRun {
  readonly id: string;
  readonly kind: ResponseKind;
  readonly item: ConversationItem;
  readonly inConversation: boolean;
  private transcript = '';
  private sentBytes = 0;
  private stream: ResponseStream | null = null;
  private timer: NodeJS.Timeout | null = null;
  private over = false;

  constructor(
    private readonly host: ResponseHost,
    private readonly reply: PeerReply,
    private readonly params: ResponseParams,
  ) {
    this.id = host.newId('resp');
    const itemId = host.newId('item');
    this.inConversation = params.conversation !== 'none';
    if (reply.type === 'function_call') {
      this.kind = 'function_call';
      this.item = { id: itemId, object: 'realtime.item', type: 'function_call', status: 'in_progress', call_id: reply.callId ?? host.newId('call'), name: reply.name, arguments: '' };
    } else {
      const modality = params.outputModalities?.[0] ?? host.config().outputModalities[0];
      this.kind = modality === 'text' ? 'text' : 'audio';
      this.item = { id: itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    }
  }

  /** Milliseconds of audio sent so far, in the session's output format. */
  get sentMs(): number {
    return durationMs(this.sentBytes, this.host.config().outputFormat);
  }

  /** Sends response.created. Separate from start() so a listener reacting to it can end the session in between. */
  announce(): void {
    this.host.send({ type: 'response.created', response: this.wire('in_progress', null) });
  }

  /** Adds the output item and starts producing output. */
  start(): void {
    if (this.over) return;
    const host = this.host;
    let previous: string | null = null;
    if (this.inConversation) {
      const inserted = host.conversation.insert(this.item);
      previous = inserted.ok ? inserted.previousItemId : null;
    }
    host.send({ type: 'response.output_item.added', response_id: this.id, output_index: 0, item: snapshotItem(this.item) });
    if (this.inConversation) host.send({ type: 'conversation.item.added', previous_item_id: previous, item: snapshotItem(this.item) });

    const reply = this.reply;
    if (reply.type === 'function_call') {
      const args = typeof reply.arguments === 'string' ? reply.arguments : JSON.stringify(reply.arguments);
      this.timer = setTimeout(() => this.sendToolCall(args), host.pacing.firstDeltaDelayMs);
      return;
    }
    const audioKind = this.kind === 'audio';
    if (this.item.type === 'message') this.item.content.push(audioKind ? { type: 'output_audio', transcript: '' } : { type: 'output_text', text: '' });
    host.send({
      type: 'response.content_part.added',
      ...this.ids(),
      content_index: 0,
      part: audioKind ? { type: 'output_audio', transcript: '' } : { type: 'output_text', text: '' },
    });
    const format = host.config().outputFormat;
    const audio = audioKind ? host.audio.encode(reply, format) : Buffer.alloc(0);
    const bytesPerMs = (sampleRateOf(format) * bytesPerSample(format)) / 1000;
    this.stream = new ResponseStream(audio, reply.transcript ?? host.defaultTranscript, bytesPerMs, bytesPerSample(format), host.pacing, {
      audio: (chunk) => this.sendAudio(chunk),
      transcript: (delta) => this.sendTranscript(delta),
      finished: () => this.finish({ status: 'completed' }),
    });
    this.stream.start();
  }

  /** Stops output without sending anything (the socket is gone). */
  stop(): void {
    this.over = true;
    this.stream?.stop();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Closes the output item and sends response.done; then tells the host. Idempotent. */
  finish(end: ResponseEnd): void {
    if (this.over) return;
    this.stop();
    const host = this.host;
    const item = this.item;
    item.status = end.status === 'completed' ? 'completed' : 'incomplete';
    if (item.type === 'message') {
      if (this.kind === 'audio') {
        host.send({ type: 'response.output_audio.done', ...this.ids(), content_index: 0 });
        host.send({ type: 'response.output_audio_transcript.done', ...this.ids(), content_index: 0, transcript: this.transcript });
        host.send({ type: 'response.content_part.done', ...this.ids(), content_index: 0, part: { type: 'output_audio', transcript: this.transcript } });
      } else {
        host.send({ type: 'response.output_text.done', ...this.ids(), content_index: 0, text: this.transcript });
        host.send({ type: 'response.content_part.done', ...this.ids(), content_index: 0, part: { type: 'output_text', text: this.transcript } });
      }
    }
    host.send({ type: 'response.output_item.done', response_id: this.id, output_index: 0, item: snapshotItem(item) });
    if (this.inConversation) host.send({ type: 'conversation.item.done', item: snapshotItem(item) });
    host.send({ type: 'response.done', response: this.wire(end.status, end.status === 'cancelled' ? { type: 'cancelled', reason: end.reason } : null) });
    // The service follows every response with its rate-limit state; a client must tolerate it.
    host.send({
      type: 'rate_limits.updated',
      rate_limits: [
        { name: 'requests', limit: 10000, remaining: 9999, reset_seconds: 0.006 },
        { name: 'tokens', limit: 2000000, remaining: 1999000, reset_seconds: 0.03 },
      ],
    });
    host.done(this, end);
  }

  private ids(): { response_id: string; item_id: string; output_index: number } {
    return { response_id: this.id, item_id: this.item.id, output_index: 0 };
  }

  private sendAudio(chunk: Buffer): void {
    this.sentBytes += chunk.length;
    if (this.inConversation) this.host.conversation.addAudio(this.item.id, durationMs(chunk.length, this.host.config().outputFormat));
    this.host.send({ type: 'response.output_audio.delta', ...this.ids(), content_index: 0, delta: chunk.toString('base64') }, chunk.length);
    this.host.audioSent({ responseId: this.id, itemId: this.item.id, bytes: chunk.length, sentMs: this.sentMs });
  }

  private sendTranscript(delta: string): void {
    this.transcript += delta;
    const part = this.item.type === 'message' ? this.item.content[0] : undefined;
    if (part?.type === 'output_audio') part.transcript = this.transcript;
    if (part?.type === 'output_text') part.text = this.transcript;
    const type = this.kind === 'audio' ? 'response.output_audio_transcript.delta' : 'response.output_text.delta';
    this.host.send({ type, ...this.ids(), content_index: 0, delta });
  }

  private sendToolCall(args: string): void {
    this.timer = null;
    if (this.over || this.item.type !== 'function_call') return;
    const item = this.item;
    item.arguments = args;
    this.host.send({ type: 'response.function_call_arguments.delta', ...this.ids(), call_id: item.call_id, delta: args });
    this.host.send({ type: 'response.function_call_arguments.done', ...this.ids(), call_id: item.call_id, name: item.name, arguments: args });
    this.host.toolCallSent({ responseId: this.id, itemId: item.id, callId: item.call_id, name: item.name, arguments: args });
    this.finish({ status: 'completed' });
  }

  private wire(status: 'in_progress' | 'completed' | 'cancelled', details: unknown): Record<string, unknown> {
    const config = this.host.config();
    const final = status !== 'in_progress';
    // Rough, plausible numbers: 20 audio tokens per second, 4 characters per text token.
    const audioTokens = Math.round(this.sentMs / 50);
    const textTokens = Math.ceil(this.transcript.length / 4);
    return {
      object: 'realtime.response',
      id: this.id,
      status,
      status_details: details,
      output: final ? [snapshotItem(this.item)] : [],
      conversation_id: this.inConversation ? this.host.conversationId : null,
      output_modalities: [this.kind === 'text' ? 'text' : 'audio'],
      max_output_tokens: config.maxOutputTokens,
      audio: { output: { format: config.outputFormat, voice: config.voice } },
      metadata: this.params.metadata ?? null,
      usage: final
        ? {
            total_tokens: audioTokens + textTokens + 20,
            input_tokens: 20,
            output_tokens: audioTokens + textTokens,
            input_token_details: { text_tokens: 20, audio_tokens: 0, cached_tokens: 0 },
            output_token_details: { text_tokens: textTokens, audio_tokens: audioTokens },
          }
        : null,
    };
  }
}
