// Owns one call: the state machine between the Twilio media socket and the
// realtime session. Twilio messages flow in through `onTwilioMessage`, AI
// events through the upstream handlers; audio goes one way through
// CallerAudioPath and the other through AssistantAudioPath. Any failure ends
// this call alone, with a close code and a log line that says why; nothing
// here throws into the server. Never logs audio, tokens or tickets.

import type { FastifyBaseLogger } from 'fastify';
import type { AudioMode } from '../config/config.js';
import { parseTwilioMessage, type StartMessage, type TwilioMessage } from '../twilio/media-stream-messages.js';
import type { StreamTicketClaims } from '../twilio/stream-ticket.js';
import { cancelResponse, truncateItem } from '../upstream/client-events.js';
import type { UpstreamConnector } from '../upstream/connect.js';
import { ClientSecretError } from '../upstream/client-secret.js';
import type { RealtimeConnection } from '../upstream/realtime-connection.js';
import type { ServerEvent } from '../upstream/server-events.js';
import { AssistantAudioPath } from './assistant-audio.js';
import { CallerAudioPath } from './caller-audio.js';

/** The Twilio side as the session sees it: a text socket. */
export interface TwilioSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface CallSessionOptions {
  readonly audioMode: AudioMode;
  readonly maxOutboundLeadMs: number;
  readonly startTimeoutMs: number;
  readonly connectUpstream: UpstreamConnector;
  readonly log: FastifyBaseLogger;
  readonly now?: () => number;
  readonly onEnded?: (summary: CallSummary) => void;
}

export type CallOutcome = 'completed' | 'rejected' | 'upstream_failed' | 'upstream_closed' | 'twilio_closed' | 'error';

export interface CallSummary {
  readonly callSid: string;
  readonly streamSid: string | undefined;
  readonly outcome: CallOutcome;
  readonly reason: string;
  readonly durationMs: number;
  readonly framesIn: number;
  readonly framesOut: number;
  readonly gapFilledMs: number;
  readonly bargeIns: number;
  readonly ignoredMessages: number;
}

/** Close codes sent to Twilio. 1008: policy/protocol violation; 1011: the bridge could not serve the call. */
const CLOSE_NORMAL = 1000;
const CLOSE_POLICY = 1008;
const CLOSE_UNSUPPORTED = 1003;
const CLOSE_INTERNAL = 1011;

const HARMLESS_ERRORS = new Set(['response_cancel_not_active', 'conversation_already_has_active_response', 'input_audio_buffer_commit_empty']);

export class CallSession {
  #state: 'awaiting_start' | 'streaming' | 'ended' = 'awaiting_start';
  #log: FastifyBaseLogger;
  #streamSid: string | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  #upstream: RealtimeConnection | undefined;
  #caller: CallerAudioPath;
  #assistant: AssistantAudioPath | undefined;
  #activeResponseId: string | undefined;
  // Responses cancelled by barge-in: their late deltas are dropped. Small, and cleared as responses finish.
  readonly #cancelled = new Set<string>();
  // The audio item each running response speaks into, so its end can flush the last partial frame.
  readonly #audioItemOf = new Map<string, string>();
  #bargeIns = 0;
  #ignored = 0;
  readonly #startedAt: number;
  readonly #now: () => number;

  constructor(
    private readonly twilio: TwilioSocket,
    private readonly ticket: StreamTicketClaims,
    private readonly options: CallSessionOptions,
  ) {
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#log = options.log.child({ callSid: ticket.callSid });
    this.#caller = new CallerAudioPath(options.audioMode, (event) => this.#upstream?.send(event) ?? false);
    this.#startTimer = setTimeout(() => this.end('rejected', 'no start message within the deadline', CLOSE_POLICY), options.startTimeoutMs);
    // Opening the AI session while Twilio sends `start` saves a round trip; caller audio waits in a bounded buffer.
    this.#openUpstream();
  }

  get isEnded(): boolean {
    return this.#state === 'ended';
  }

  onTwilioMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.#state === 'ended') return;
    try {
      if (isBinary) return this.end('rejected', 'binary frame on a Media Streams socket', CLOSE_UNSUPPORTED);
      const text = Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data as ArrayBuffer).toString();
      const parsed = parseTwilioMessage(text);
      if (!parsed.ok) return this.#ignore(`${parsed.reason}: ${parsed.detail}`);
      this.#handle(parsed.message);
    } catch (err) {
      this.#log.error({ err }, 'call failed while handling a Twilio message');
      this.end('error', 'internal error', CLOSE_INTERNAL);
    }
  }

  /** The Twilio socket closed (hang-up or network). */
  onTwilioClose(code: number): void {
    if (this.#state === 'ended') return;
    this.end('twilio_closed', `Twilio socket closed (${code})`, undefined);
  }

  /** Ends the call once: stops timers, closes both sockets, logs a summary. */
  end(outcome: CallOutcome, reason: string, twilioCloseCode: number | undefined): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    clearTimeout(this.#startTimer);
    this.#assistant?.stop();
    this.#upstream?.close(1000, 'call ended');
    if (twilioCloseCode !== undefined) this.twilio.close(twilioCloseCode, reason.slice(0, 120));
    const summary: CallSummary = {
      callSid: this.ticket.callSid,
      streamSid: this.#streamSid,
      outcome,
      reason,
      durationMs: this.#now() - this.#startedAt,
      framesIn: this.#caller.stats.framesIn,
      framesOut: this.#assistant?.stats.framesOut ?? 0,
      gapFilledMs: this.#caller.stats.gapFilledMs,
      bargeIns: this.#bargeIns,
      ignoredMessages: this.#ignored,
    };
    const level = outcome === 'completed' || outcome === 'twilio_closed' ? 'info' : 'warn';
    this.#log[level]({ summary }, `call ended: ${reason}`);
    this.options.onEnded?.(summary);
  }

  #handle(message: TwilioMessage): void {
    switch (message.event) {
      case 'connected':
        return;
      case 'start':
        return this.#onStart(message);
      case 'media':
        if (this.#state !== 'streaming') return this.end('rejected', 'media before start', CLOSE_POLICY);
        if (message.streamSid !== this.#streamSid) return this.#ignore('media for another stream');
        if (message.track !== 'inbound') return;
        this.#caller.push(message.timestamp, message.payload);
        return;
      case 'mark':
        if (message.streamSid !== this.#streamSid) return this.#ignore('mark for another stream');
        this.#assistant?.acknowledgeMark(message.name);
        return;
      case 'dtmf':
        this.#log.info({ digit: message.digit }, 'caller pressed a key');
        return;
      case 'stop':
        if (this.#state !== 'streaming' || message.streamSid !== this.#streamSid) return this.#ignore('stop for another stream');
        return this.end('completed', 'Twilio stopped the stream', CLOSE_NORMAL);
    }
  }

  #onStart(start: StartMessage): void {
    if (this.#state !== 'awaiting_start') return this.end('rejected', 'a second start message', CLOSE_POLICY);
    if (start.callSid !== this.ticket.callSid) return this.end('rejected', 'start.callSid does not match the ticket', CLOSE_POLICY);
    const f = start.mediaFormat;
    if (f.encoding !== 'audio/x-mulaw' || f.sampleRate !== 8000 || f.channels !== 1) {
      return this.end('rejected', `unsupported media format ${f.encoding}/${f.sampleRate}/${f.channels}`, CLOSE_POLICY);
    }
    clearTimeout(this.#startTimer);
    this.#state = 'streaming';
    this.#streamSid = start.streamSid;
    this.#log = this.#log.child({ streamSid: start.streamSid });
    this.#assistant = new AssistantAudioPath(
      this.options.audioMode,
      this.options.maxOutboundLeadMs,
      start.streamSid,
      (text) => this.twilio.send(text),
      this.#now,
    );
    this.#log.info('media stream started');
  }

  #openUpstream(): void {
    this.options
      .connectUpstream({
        onEvent: (event) => this.#onUpstreamEvent(event),
        onMalformed: (detail) => this.#log.warn({ detail }, 'ignored a malformed message from the AI server'),
        onClose: (code, reason) => {
          if (this.#state !== 'ended') this.end('upstream_closed', `AI session closed (${code}${reason ? ` ${reason}` : ''})`, CLOSE_INTERNAL);
        },
      })
      .then(
        (connection) => {
          if (this.#state === 'ended') return connection.close(1000, 'call ended');
          this.#upstream = connection;
          this.#log.info('AI session open');
          this.#caller.flush();
        },
        (err: unknown) => {
          const why = err instanceof ClientSecretError || err instanceof Error ? err.message : 'unknown failure';
          if (this.#state !== 'ended') this.end('upstream_failed', `could not reach the AI service: ${why}`, CLOSE_INTERNAL);
        },
      );
  }

  #onUpstreamEvent(event: ServerEvent): void {
    if (this.#state === 'ended') return;
    try {
      this.#dispatchUpstream(event);
    } catch (err) {
      this.#log.error({ err }, 'call failed while handling an AI event');
      this.end('error', 'internal error', CLOSE_INTERNAL);
    }
  }

  #dispatchUpstream(event: ServerEvent): void {
    switch (event.type) {
      case 'response.output_audio.delta':
        if (this.#cancelled.has(event.responseId) || this.#assistant === undefined) return;
        this.#audioItemOf.set(event.responseId, event.itemId);
        this.#assistant.pushDelta(event.itemId, event.delta);
        return;
      case 'input_audio_buffer.speech_started':
        return this.#bargeIn();
      case 'response.created':
        this.#activeResponseId = event.responseId;
        return;
      case 'response.done':
        if (this.#activeResponseId === event.responseId) this.#activeResponseId = undefined;
        this.#cancelled.delete(event.responseId);
        const itemId = this.#audioItemOf.get(event.responseId);
        this.#audioItemOf.delete(event.responseId);
        if (itemId !== undefined) this.#assistant?.endItem(itemId);
        this.#log.debug({ responseId: event.responseId, status: event.status }, 'response done');
        return;
      case 'error':
        if (HARMLESS_ERRORS.has(event.code)) this.#log.debug({ code: event.code }, 'AI server notice');
        else this.#log.warn({ code: event.code, errorType: event.errorType, detail: event.message }, 'AI server reported an error');
        return;
      default:
        return;
    }
  }

  /**
   * The caller started speaking: silence the line, tell the AI what was
   * actually heard, and stop the response if it is still running.
   */
  #bargeIn(): void {
    const interruption = this.#assistant?.interrupt();
    if (interruption !== undefined) {
      this.#bargeIns++;
      const received = this.#assistant!.receivedMs(interruption.itemId);
      // Truncating at or past the item's end is an error on the server; nothing to do then.
      if (interruption.heardMs < received) this.#upstream?.send(truncateItem(interruption.itemId, interruption.heardMs));
      this.#log.info({ itemId: interruption.itemId, heardMs: interruption.heardMs }, 'caller barged in');
    }
    if (this.#activeResponseId !== undefined) {
      this.#cancelled.add(this.#activeResponseId);
      this.#upstream?.send(cancelResponse());
      this.#activeResponseId = undefined;
    }
  }

  #ignore(why: string): void {
    this.#ignored++;
    // One bad message should not flood the log; the count lands in the call summary.
    if (this.#ignored <= 5) this.#log.warn({ why }, 'ignored a message from Twilio');
  }
}
