// Owns the protocol state machine of one accepted realtime socket: the
// session configuration, the input audio buffer and VAD turns, the
// conversation, and at most one active response. It turns checked client
// events into server events. It never touches the socket directly (a
// Transport writes and closes) and never throws on client input: anything
// wrong becomes an `error` event and the session stays open.

import { randomBytes } from 'node:crypto';
import { decodeAudio, sampleRateOf } from './audio-format.js';
import { parseClientEvent, type ClientEvent, type ClientItem, type ProtocolError, type ResponseParams } from './client-events.js';
import { Conversation, snapshotItem, type ConversationItem } from './conversation.js';
import type { Emit, SessionRecord } from './recording.js';
import type { Pacing } from './response-stream.js';
import { ResponseRun, type ResponseEnd, type ResponseHost, type ServerEventBody } from './response-run.js';
import type { PeerReply, ReplyAudioLibrary, ReplyScript, TranscriptScript } from './reply.js';
import { applySessionUpdate, sessionToWire, type SessionConfig } from './session-config.js';
import { EnergyVad, type VadParams } from './vad.js';

export interface Transport {
  send(text: string): void;
  close(code: number, reason: string): void;
}

/** Peer-wide VAD knobs that are not part of the protocol. */
export interface VadTuning {
  /** Above-threshold audio needed before speech_started (ms). */
  readonly minSpeechMs: number;
  /** When set, replaces every session's silence_duration_ms (tests use a short one whatever the client asks). */
  readonly silenceDurationMsOverride?: number;
}

/** Sources of scripted content, shared by every session of a peer. */
export interface ReplySource {
  readonly audio: ReplyAudioLibrary;
  /** Next queued reply (peer.queueReply), if any; consumed. */
  takeQueuedReply(): PeerReply | undefined;
  /** Next queued user transcript (peer.queueTranscript), if any; consumed. */
  takeQueuedTranscript(): string | undefined;
  readonly script?: ReplyScript;
  readonly transcriptScript?: TranscriptScript;
  readonly defaultUserTranscript: string;
  readonly defaultReplyTranscript: string;
}

export interface SessionDeps {
  readonly record: SessionRecord;
  readonly config: SessionConfig;
  /** Unix seconds reported as the session's expires_at. */
  readonly expiresAt: number;
  readonly transport: Transport;
  readonly emit: Emit;
  readonly replies: ReplySource;
  readonly pacing: Pacing;
  readonly vad: VadTuning;
  readonly recordAudio: boolean;
  /** Keep received/sent events in the record at all (listeners still see them). */
  readonly recordEvents: boolean;
  /** Milliseconds after which the session ends with session_expired. */
  readonly maxAgeMs: number;
}

// The service rejects a commit of less than 100 ms of audio.
const MIN_COMMIT_MS = 100;

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x')}`;
}

export class RealtimeSession {
  private config: SessionConfig;
  private readonly conversation = new Conversation();
  private readonly vad: EnergyVad;
  private eventCounter = 0;
  private readonly eventPrefix = randomBytes(4).toString('hex');
  /** Item id of the user turn the VAD is in, from speech_started to speech_stopped. */
  private speechItemId: string | null = null;
  /** Milliseconds of input appended since the last commit/clear. */
  private bufferedMs = 0;
  private active: ResponseRun | null = null;
  private responsesStarted = 0;
  private turnsCommitted = 0;
  private audioProduced = false;
  /**
   * Input position (ms) from which silence counts toward idle_timeout_ms:
   * the end of the last response's audio as the caller would hear it. Null
   * when no idle timer runs.
   */
  private idleFromMs: number | null = null;
  private ended = false;
  /** A wedged session never answers again (see FaultAction 'wedge'); with `transcribe` false it stops transcribing too. */
  private wedged: { transcribe: boolean } | null = null;
  private readonly expiryTimer: NodeJS.Timeout;
  private readonly responseHost: ResponseHost;

  constructor(private readonly deps: SessionDeps) {
    this.config = deps.config;
    this.responseHost = this.makeResponseHost();
    this.vad = new EnergyVad(this.vadParams(), sampleRateOf(this.config.inputFormat));
    deps.record.conversationSource = () => this.conversation.items;
    deps.record.configSource = () => sessionToWire(deps.record.id, this.config, deps.expiresAt);
    this.expiryTimer = setTimeout(() => this.expire(), deps.maxAgeMs);
    // A peer must never hold the process open on its own.
    this.expiryTimer.unref();
  }

  start(): void {
    this.send({ type: 'session.created', session: sessionToWire(this.deps.record.id, this.config, this.deps.expiresAt) });
  }

  /** Stops timers and output; called once the socket is gone. */
  dispose(): void {
    this.ended = true;
    clearTimeout(this.expiryTimer);
    this.active?.stop();
    this.active = null;
  }

  /** Fault: the model stops. The running response goes quiet mid-stream (no response.done), none starts again. */
  wedge(transcribe: boolean): void {
    this.wedged = { transcribe };
    this.active?.stop();
  }

  /** The 60-minute cap (or the configured one): error session_expired, then close 1001. */
  expire(): void {
    if (this.ended) return;
    const minutes = Math.round((this.deps.maxAgeMs / 60000) * 100) / 100;
    this.sendError({ type: 'invalid_request_error', code: 'session_expired', message: `Your session hit the maximum duration of ${minutes} minutes.`, param: null, event_id: null });
    this.dispose();
    this.deps.transport.close(1001, 'session_expired');
  }

  /** Reports an unexpected exception as the service reports its own failures; the session stays open. */
  internalError(err: unknown): void {
    const detail = err instanceof Error ? err.message : String(err);
    process.emitWarning(`realtime peer: internal error in session ${this.deps.record.index}: ${detail}`);
    this.send({ type: 'error', error: { type: 'server_error', code: null, message: `The realtime peer failed: ${detail}`, param: null, event_id: null } });
  }

  /** The service speaks JSON text frames only; a binary frame is an error, not a crash. */
  handleBinary(byteLength: number): void {
    if (this.ended) return;
    const error: ProtocolError = { type: 'invalid_request_error', code: 'invalid_event', message: `Binary frames are not supported (got ${byteLength} bytes); send JSON text frames.`, param: null, event_id: null };
    const entry = { at: performance.now(), type: null, error };
    if (this.deps.recordEvents) this.deps.record.received.push(entry);
    this.deps.emit('clientEvent', this.deps.record, entry);
    this.sendError(error);
  }

  handleText(text: string): void {
    if (this.ended) return;
    const at = performance.now();
    const parsed = parseClientEvent(text);
    const rec = this.deps.record;
    if (!parsed.ok) {
      const entry = { at, type: parsed.eventType, error: parsed.error };
      if (this.deps.recordEvents) rec.received.push(entry);
      this.deps.emit('clientEvent', rec, entry);
      this.sendError(parsed.error);
      return;
    }
    let event = parsed.event;
    let audio: Buffer | undefined;
    if (event.type === 'input_audio_buffer.append') {
      audio = Buffer.from(event.audio, 'base64');
      if (!this.deps.recordAudio) event = { ...event, audio: '' };
    }
    const entry = audio === undefined ? { at, type: event.type, event } : { at, type: event.type, event, audioBytes: audio.length };
    if (this.deps.recordEvents) rec.received.push(entry);
    this.deps.emit('clientEvent', rec, entry);
    if (audio !== undefined) this.onAppend(audio);
    else this.dispatch(parsed.event);
  }

  private dispatch(e: ClientEvent): void {
    switch (e.type) {
      case 'session.update':
        return this.onSessionUpdate(e);
      case 'input_audio_buffer.append':
        // Decoded once in handleText, which calls onAppend directly.
        return;
      case 'input_audio_buffer.commit':
        return this.onCommit(e.event_id);
      case 'input_audio_buffer.clear':
        this.bufferedMs = 0;
        this.vad.resetTurn();
        this.speechItemId = null;
        this.send({ type: 'input_audio_buffer.cleared' });
        return;
      case 'conversation.item.create':
        return this.onItemCreate(e.item, e.previous_item_id, e.event_id);
      case 'conversation.item.truncate':
        return this.onTruncate(e);
      case 'conversation.item.delete':
        if (!this.conversation.delete(e.item_id)) {
          return this.fail('item_not_found', `Item with id '${e.item_id}' not found.`, 'item_id', e.event_id);
        }
        this.send({ type: 'conversation.item.deleted', item_id: e.item_id });
        return;
      case 'conversation.item.retrieve': {
        const item = this.conversation.get(e.item_id);
        if (item === undefined) return this.fail('item_not_found', `Item with id '${e.item_id}' not found.`, 'item_id', e.event_id);
        this.send({ type: 'conversation.item.retrieved', item: snapshotItem(item) });
        return;
      }
      case 'response.create':
        if (this.active !== null) {
          return this.fail('conversation_already_has_active_response', `Conversation already has an active response in progress: ${this.active.id}. Wait until the response is finished before creating a new one.`, null, e.event_id);
        }
        return this.startResponse('response.create', e.response);
      case 'response.cancel':
        if (this.active === null || (e.response_id !== undefined && e.response_id !== this.active.id)) {
          return this.fail('response_cancel_not_active', 'Cancellation failed: no active response found.', null, e.event_id);
        }
        return this.finishResponse({ status: 'cancelled', reason: 'client_cancelled' });
    }
  }

  private vadParams(): VadParams {
    const t = this.config.turnDetection;
    return {
      threshold: t?.threshold ?? 0.5,
      prefixPaddingMs: t?.prefixPaddingMs ?? 300,
      silenceDurationMs: this.deps.vad.silenceDurationMsOverride ?? t?.silenceDurationMs ?? 500,
      minSpeechMs: this.deps.vad.minSpeechMs,
    };
  }

  private onSessionUpdate(e: Extract<ClientEvent, { type: 'session.update' }>): void {
    const result = applySessionUpdate(this.config, e.session, this.audioProduced);
    if (!result.ok) return this.fail(result.error.code, result.error.message, result.error.param, e.event_id);
    this.config = result.config;
    this.vad.configure(this.vadParams(), sampleRateOf(this.config.inputFormat));
    if (this.config.turnDetection === null && this.speechItemId !== null) {
      this.vad.resetTurn();
      this.speechItemId = null;
    }
    this.send({ type: 'session.updated', session: sessionToWire(this.deps.record.id, this.config, this.deps.expiresAt) });
  }

  private onAppend(bytes: Buffer): void {
    const samples = decodeAudio(bytes, this.config.inputFormat);
    this.bufferedMs += (samples.length / sampleRateOf(this.config.inputFormat)) * 1000;
    // Time keeps running for the VAD even with turn detection off, so audio_start_ms stays a session-wide position.
    const events = this.vad.feed(samples);
    if (this.config.turnDetection === null) {
      this.vad.resetTurn();
      return;
    }
    for (const ev of events) {
      if (this.ended) return;
      if (ev.type === 'speechStarted') this.onSpeechStarted(ev.audioStartMs);
      else this.onSpeechStopped(ev.audioEndMs);
    }
    this.checkIdle();
  }

  /** idle_timeout_ms: silence after the assistant's reply commits an empty turn and prompts a response. Counted in input audio, like the VAD. */
  private checkIdle(): void {
    const timeout = this.config.turnDetection?.idleTimeoutMs ?? null;
    if (this.ended || timeout === null || this.idleFromMs === null || this.active !== null || this.vad.isSpeaking) return;
    const now = this.vad.positionMs;
    if (now - this.idleFromMs < timeout) return;
    const itemId = newId('item');
    this.send({ type: 'input_audio_buffer.timeout_triggered', audio_start_ms: Math.round(this.idleFromMs), audio_end_ms: Math.round(now), item_id: itemId });
    this.idleFromMs = null;
    this.commitUserTurn(itemId, false);
    if (!this.ended && this.config.turnDetection?.createResponse === true) this.startResponse('turn', {});
  }

  private onSpeechStarted(audioStartMs: number): void {
    const itemId = newId('item');
    this.speechItemId = itemId;
    this.idleFromMs = null;
    this.send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(audioStartMs), item_id: itemId });
    // Barge-in: the service cancels its own response when the caller talks over it.
    const td = this.config.turnDetection;
    // Out-of-band responses (conversation: 'none') are not interrupted, as on the service.
    if (this.active !== null && this.active.inConversation && td !== null && td.interruptResponse) this.finishResponse({ status: 'cancelled', reason: 'turn_detected' });
    this.deps.emit('speechStarted', this.deps.record, { itemId, audioStartMs: Math.round(audioStartMs) });
  }

  private onSpeechStopped(audioEndMs: number): void {
    const itemId = this.speechItemId ?? newId('item');
    this.speechItemId = null;
    this.send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(audioEndMs), item_id: itemId });
    this.deps.emit('speechStopped', this.deps.record, { itemId, audioEndMs: Math.round(audioEndMs) });
    if (this.ended) return;
    this.commitUserTurn(itemId);
    const td = this.config.turnDetection;
    if (!this.ended && td !== null && td.createResponse && this.active === null) this.startResponse('turn', {});
  }

  private onCommit(eventId: string | undefined): void {
    if (this.bufferedMs < MIN_COMMIT_MS) {
      return this.fail('input_audio_buffer_commit_empty', `Error committing input audio buffer: buffer too small. Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has ${Math.round(this.bufferedMs)}ms of audio.`, null, eventId);
    }
    const itemId = this.speechItemId ?? newId('item');
    this.speechItemId = null;
    this.vad.resetTurn();
    this.commitUserTurn(itemId);
  }

  /** `transcribe` is false for the silent turn an idle timeout commits. */
  private commitUserTurn(itemId: string, transcribe = true): void {
    this.bufferedMs = 0;
    this.turnsCommitted++;
    const item: ConversationItem = { id: itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'user', content: [{ type: 'input_audio', transcript: null }] };
    const inserted = this.conversation.insert(item);
    const previous = inserted.ok ? inserted.previousItemId : null;
    this.send({ type: 'input_audio_buffer.committed', previous_item_id: previous, item_id: itemId });
    this.send({ type: 'conversation.item.added', previous_item_id: previous, item: snapshotItem(item) });
    this.send({ type: 'conversation.item.done', previous_item_id: previous, item: snapshotItem(item) });
    // Transcripts exist only when the session asked for transcription, as on the real service.
    if (transcribe && this.config.transcription !== null && (this.wedged?.transcribe ?? true)) {
      const r = this.deps.replies;
      const transcript =
        r.takeQueuedTranscript() ??
        r.transcriptScript?.({ sessionIndex: this.deps.record.index, turnNumber: this.turnsCommitted }) ??
        r.defaultUserTranscript;
      const part = item.content[0];
      if (part?.type === 'input_audio') part.transcript = transcript;
      this.send({ type: 'conversation.item.input_audio_transcription.completed', item_id: itemId, content_index: 0, transcript });
    }
  }

  private onItemCreate(input: ClientItem, previousItemId: string | null | undefined, eventId: string | undefined): void {
    const id = input.id ?? newId('item');
    let item: ConversationItem;
    switch (input.type) {
      case 'message':
        item = { id, object: 'realtime.item', type: 'message', status: 'completed', role: input.role, content: input.content.map((c) => ({ ...c })) };
        break;
      case 'function_call':
        item = { id, object: 'realtime.item', type: 'function_call', status: 'completed', call_id: input.call_id, name: input.name, arguments: input.arguments };
        break;
      case 'function_call_output':
        item = { id, object: 'realtime.item', type: 'function_call_output', status: 'completed', call_id: input.call_id, output: input.output };
        break;
    }
    const inserted = this.conversation.insert(item, previousItemId);
    if (!inserted.ok) return this.fail(inserted.code, inserted.message, 'previous_item_id', eventId);
    this.send({ type: 'conversation.item.added', previous_item_id: inserted.previousItemId, item: snapshotItem(item) });
    this.send({ type: 'conversation.item.done', previous_item_id: inserted.previousItemId, item: snapshotItem(item) });
  }

  private onTruncate(e: Extract<ClientEvent, { type: 'conversation.item.truncate' }>): void {
    const item = this.conversation.get(e.item_id);
    if (item === undefined) return this.fail('item_not_found', `Item with id '${e.item_id}' not found.`, 'item_id', e.event_id);
    if (item.type !== 'message' || item.role !== 'assistant') {
      return this.fail('invalid_value', 'Only assistant messages can be truncated.', 'item_id', e.event_id);
    }
    const part = item.content[e.content_index];
    if (part === undefined || part.type !== 'output_audio') {
      return this.fail('invalid_value', `Content index ${e.content_index} of item '${e.item_id}' holds no audio.`, 'content_index', e.event_id);
    }
    const audioMs = Math.floor(this.conversation.audioDurationMs(e.item_id));
    if (e.audio_end_ms > audioMs) {
      return this.fail('invalid_value', `Audio content of ${audioMs}ms is already shorter than ${e.audio_end_ms}ms.`, 'audio_end_ms', e.event_id);
    }
    this.conversation.truncate(e.item_id, e.audio_end_ms);
    this.send({ type: 'conversation.item.truncated', item_id: e.item_id, content_index: e.content_index, audio_end_ms: e.audio_end_ms });
  }

  private chooseReply(trigger: 'turn' | 'response.create'): PeerReply {
    const r = this.deps.replies;
    return (
      r.takeQueuedReply() ??
      r.script?.({ sessionIndex: this.deps.record.index, responseNumber: this.responsesStarted, trigger, conversation: this.conversation.items }) ?? { type: 'audio' }
    );
  }

  private startResponse(trigger: 'turn' | 'response.create', params: ResponseParams): void {
    if (this.wedged !== null) return;
    this.responsesStarted++;
    this.idleFromMs = null;
    const run = new ResponseRun(this.responseHost, this.chooseReply(trigger), params);
    this.active = run;
    run.announce();
    this.deps.emit('responseCreated', this.deps.record, { responseId: run.id, trigger });
    // A listener may have ended the session (a fault) in between.
    if (this.active === run) run.start();
  }

  /** Ends the active response, if any, with response.done. */
  private finishResponse(end: ResponseEnd): void {
    this.active?.finish(end);
  }

  private makeResponseHost(): ResponseHost {
    return {
      send: (body, audioBytes) => this.send(body, audioBytes),
      conversation: this.conversation,
      config: () => this.config,
      conversationId: 'conv_' + this.deps.record.id.slice(5),
      audio: this.deps.replies.audio,
      pacing: this.deps.pacing,
      defaultTranscript: this.deps.replies.defaultReplyTranscript,
      newId,
      audioSent: (info) => {
        this.audioProduced = true;
        this.deps.emit('responseAudio', this.deps.record, info);
      },
      toolCallSent: (info) => this.deps.emit('toolCall', this.deps.record, info),
      done: (run, end) => {
        if (this.active === run) this.active = null;
        if (end.status === 'completed' && run.kind === 'audio' && run.inConversation) {
          // The caller hears the reply in real time from about now, so the idle clock starts when it would end.
          this.idleFromMs = this.vad.positionMs + run.sentMs;
        }
        this.deps.emit('responseDone', this.deps.record, { responseId: run.id, status: end.status });
      },
    };
  }

  private fail(code: string, message: string, param: string | null, eventId: string | undefined): void {
    this.sendError({ type: 'invalid_request_error', code, message, param, event_id: eventId ?? null });
  }

  private sendError(error: ProtocolError): void {
    this.send({ type: 'error', error });
  }

  private send(body: ServerEventBody, audioBytes?: number): void {
    if (this.ended) return;
    const event = { event_id: `event_${this.eventPrefix}${(++this.eventCounter).toString(36)}`, ...body };
    this.deps.transport.send(JSON.stringify(event));
    const recorded = audioBytes !== undefined && !this.deps.recordAudio ? { ...event, delta: '' } : event;
    const entry = audioBytes === undefined ? { at: performance.now(), type: body.type, event: recorded } : { at: performance.now(), type: body.type, event: recorded, audioBytes };
    if (this.deps.recordEvents) this.deps.record.sent.push(entry);
    this.deps.emit('serverEvent', this.deps.record, entry);
  }
}
