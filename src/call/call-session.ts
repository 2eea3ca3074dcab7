// Owns one call: the state machine between the Twilio media socket and the
// realtime AI. Twilio messages flow in through `onTwilioMessage`; AI events
// arrive through the RealtimeLink, which survives drops and rolls sessions
// over. Audio goes one way through CallerAudioPath and the other through
// AssistantAudioPath. While the AI is away the caller hears comfort audio,
// and past the outage budget (or on a fatal failure) the call is handed to
// the fallback through Twilio's REST API. Any failure ends this call alone.
// Never logs audio, tokens, tickets or DTMF digits.

import type { FastifyBaseLogger } from 'fastify';
import type { AudioMode } from '../config/config.js';
import { ComfortAudio, type ComfortSound } from '../audio/comfort-audio.js';
import { parseTwilioMessage, type StartMessage, type TwilioMessage } from '../twilio/media-stream-messages.js';
import { mediaMessage } from '../twilio/media-stream-writer.js';
import type { StreamTicketClaims } from '../twilio/stream-ticket.js';
import type { CallControl } from '../twilio/call-control.js';
import { cancelResponse, createResponse, functionCallOutput, truncateItem } from '../upstream/client-events.js';
import type { UpstreamConnector } from '../upstream/connect.js';
import { RealtimeLink, STABLE_SESSION_MS, type ConnectAttempt, type SessionKind } from '../upstream/realtime-link.js';
import type { ReconnectPolicy } from '../upstream/reconnect-policy.js';
import type { ServerEvent } from '../upstream/server-events.js';
import { AssistantAudioPath, type TwilioSink } from './assistant-audio.js';
import { CallerAudioPath } from './caller-audio.js';
import { ConversationLog } from './conversation-log.js';
import { MessageRateLimit } from './message-rate-limit.js';
import { OutageGuard } from './outage-guard.js';
import { ReplyWatch } from './reply-watch.js';
import { WarningQuota } from './warning-quota.js';
import { NO_TELEMETRY, type CallTelemetry } from './call-telemetry.js';

/** The Twilio side as the session sees it: a text socket. */
export interface TwilioSocket extends TwilioSink {
  close(code: number, reason: string): void;
  /** Bytes queued towards Twilio and not yet written: grows when Twilio (or the network) is slow. */
  readonly bufferedAmount: number;
}

export interface CallSessionOptions {
  readonly audioMode: AudioMode;
  readonly maxOutboundLeadMs: number;
  readonly startTimeoutMs: number;
  readonly connectUpstream: UpstreamConnector;
  readonly callControl: CallControl;
  /** TwiML verbs the call is handed to when the AI cannot serve it. */
  readonly fallbackVerbs: string;
  readonly resilience: {
    readonly rolloverAfterMs: number;
    readonly callerBufferMs: number;
    readonly comfortAfterMs: number;
    readonly comfortSound: ComfortSound | 'off';
    readonly outageBudgetMs: number;
    /** A reply the caller is owed must begin, and keep coming, within this; else the session is replaced. */
    readonly replyTimeoutMs: number;
  };
  readonly limits: {
    readonly maxMessagesPerSecond: number;
    readonly mediaIdleTimeoutMs: number;
    readonly twilioMaxBacklogBytes: number;
  };
  readonly log: FastifyBaseLogger;
  readonly now?: () => number;
  readonly reconnectPolicy?: ReconnectPolicy;
  readonly onEnded?: (summary: CallSummary) => void;
  readonly onConnectAttempt?: (attempt: ConnectAttempt) => void;
  readonly telemetry?: CallTelemetry;
}

export type CallOutcome = 'completed' | 'rejected' | 'fallback' | 'hung_up_by_agent' | 'twilio_closed' | 'idle_timeout' | 'overloaded' | 'error';

export interface CallSummary {
  readonly callSid: string;
  readonly streamSid: string | undefined;
  readonly outcome: CallOutcome;
  readonly reason: string;
  readonly durationMs: number;
  readonly framesIn: number;
  readonly framesOut: number;
  /** Assistant audio never sent because Twilio's socket was backed up. */
  readonly assistantAudioDroppedMs: number;
  /** Largest lead of sent audio over real-time playback, by the pacer's clock. */
  readonly maxLeadMs: number;
  readonly gapFilledMs: number;
  readonly bargeIns: number;
  /** Twilio messages ignored (malformed, or for another stream). */
  readonly ignoredMessages: number;
  /** Messages from the AI server that could not be parsed, and were ignored. */
  readonly malformedUpstreamMessages: number;
  readonly reconnects: number;
  readonly rollovers: number;
  /** Sessions given up because they owed the caller a reply and gave none in time. */
  readonly replyTimeouts: number;
  readonly outageMs: number;
  readonly callerAudioDroppedMs: number;
  /** Uncommitted caller audio sent again to a replacement session. */
  readonly callerAudioResentMs: number;
  readonly comfortFrames: number;
}

/** Close codes sent to Twilio. 1008: policy/protocol violation; 1011: the bridge could not serve the call. */
const CLOSE_NORMAL = 1000;
const CLOSE_POLICY = 1008;
const CLOSE_UNSUPPORTED = 1003;
const CLOSE_INTERNAL = 1011;

const HARMLESS_ERRORS = new Set(['response_cancel_not_active', 'conversation_already_has_active_response', 'input_audio_buffer_commit_empty']);
const HOUSEKEEPING_MS = 100;
/** What a new session is given of the reply the caller is owed (see `#handedOver`). */
type HandOver = { readonly kind: 'nothing' | 'request' } | { readonly kind: 'utterances'; readonly turnIds: readonly string[] };
const NOTHING_HANDED_OVER: HandOver = { kind: 'nothing' };
/** Above this many bytes queued towards the AI, the server is not reading: caller audio waits in its own bound. */
const UPSTREAM_BACKLOG_BYTES = 256 * 1024;
/** A server that stays that far behind this long is replaced by a fresh session. */
const UPSTREAM_STALL_MS = 3000;
/** Media quiet for this long means the network is dropping silent packets, not jitter. */
const SILENCE_FILL_AFTER_MS = 200;
/** Filled silence stays this far behind the estimated stream clock, so a late real frame rarely overlaps it. */
const SILENCE_FILL_MARGIN_MS = 80;
/** After a failed rollover attempt, the old session serves on this long before the next try. */
const ROLLOVER_RETRY_MS = 30_000;
/** A rollover that found the call mid-turn is tried again after this. */
const ROLLOVER_POSTPONE_MS = 2000;
/** Past this backlog towards Twilio, assistant audio waits in the pacer instead of the socket. */
const TWILIO_SOFT_BACKLOG_BYTES = 64 * 1024;
/**
 * Twilio's socket backed up past the soft limit this long, without a break, is not draining: the call ends.
 * Needed because the pacer stops at the soft limit, so the hard limit is never reached by a dead socket. Paced
 * audio is about 17 KB/s, so the soft limit alone is ~4 s the caller has not heard (plus the kernel's buffers);
 * a healthy network's hiccup (a few TCP retransmissions) clears in about a second. Five seconds more of dead air
 * is a peer that has gone, and the same bound takes a mark echo as lost.
 */
const TWILIO_STALL_MS = 5000;
/**
 * A session that misses a reply is replaced once; if the fresh session misses too, the service is not serving
 * this call and the caller goes to the fallback instead of waiting in silence again.
 */
const MAX_REPLY_MISSES = 2;
/** After a REST hand-off Twilio closes the stream; if it has not, the bridge does. */
const HANDOFF_GRACE_MS = 5000;
/** An agent's hang-up is tried this many times over REST, HANGUP_RETRY_MS × attempt apart. */
const HANGUP_ATTEMPTS = 3;
const HANGUP_RETRY_MS = 500;

/** A WebSocket close reason may hold at most 123 bytes; ws throws on more. */
function closeReason(reason: string): string {
  const bytes = Buffer.from(reason);
  if (bytes.length <= 123) return reason;
  // Cut on a character boundary: decoding a cut multi-byte sequence would add a replacement char.
  let cut = 120;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut).toString();
}

export class CallSession {
  #state: 'awaiting_start' | 'streaming' | 'handing_off' | 'ended' = 'awaiting_start';
  #log: FastifyBaseLogger;
  #streamSid: string | undefined;
  #startTimer: NodeJS.Timeout | undefined;
  readonly #link: RealtimeLink;
  readonly #caller: CallerAudioPath;
  #assistant: AssistantAudioPath | undefined;
  readonly #conversation = new ConversationLog();
  #activeResponseId: string | undefined;
  #callerSpeaking = false;
  #hangupRequested = false;
  // Responses cancelled by barge-in or cut by a drop: their late deltas are dropped.
  readonly #cancelled = new Set<string>();
  // The audio item each running response speaks into, so its end can flush the last partial frame.
  readonly #audioItemOf = new Map<string, string>();
  // Items of the current session: only these can be truncated on it.
  #sessionItems = new Set<string>();
  readonly #handledCalls = new Set<string>();
  readonly #outage: OutageGuard;
  #nextRolloverAt = 0;
  #handoffTimer: NodeJS.Timeout | undefined;
  #hangupTimer: NodeJS.Timeout | undefined;
  readonly #housekeeping: NodeJS.Timeout;
  #stalledSince: number | undefined;
  #twilioBackedUpSince: number | undefined;
  #lastTidyAt = 0;
  readonly #comfort: ComfortAudio | undefined;
  #comfortFrames = 0;
  readonly #rate: MessageRateLimit;
  #lastMediaAt: number;
  #bargeIns = 0;
  // Bad input from either peer is counted; only the first few of each kind are logged.
  readonly #ignoredTwilio = new WarningQuota();
  readonly #malformedUpstream = new WarningQuota();
  #reconnects = 0;
  #rollovers = 0;
  readonly #replies: ReplyWatch;
  #replyTimeouts = 0;
  // What a new session was given of the reply the caller is owed (set when it is ready, used when it serves):
  // a response.create, or the caller's words again as audio (the held turns `turnIds`, and whatever of the
  // caller's is uncommitted). Either way that reply is then watched on it.
  #handedOver: HandOver = NOTHING_HANDED_OVER;
  // The owed reply is asked of each new session with a response.create: a reply cut short (its session lost while
  // the caller was mid-reply, with audio still to come: finishing it spares the caller waiting mid-sentence), or
  // one already asked for. It stays asked until a reply reaches the caller or the caller speaks again, so a
  // session that fails before answering passes the request on to the next.
  #askForReply = false;
  // A tool's output is answered by a response requested once the response that called the tool is done:
  // the service refuses a second response while one is active.
  #respondAfterDone = false;
  readonly #startedAt: number;
  readonly #now: () => number;
  readonly #telemetry: CallTelemetry;

  constructor(
    private readonly twilio: TwilioSocket,
    private readonly ticket: StreamTicketClaims,
    private readonly options: CallSessionOptions,
  ) {
    this.#now = options.now ?? Date.now;
    this.#telemetry = options.telemetry ?? NO_TELEMETRY;
    this.#startedAt = this.#now();
    this.#lastMediaAt = this.#startedAt;
    this.#lastTidyAt = this.#startedAt;
    this.#replies = new ReplyWatch(options.resilience.replyTimeoutMs);
    this.#rate = new MessageRateLimit(options.limits.maxMessagesPerSecond, options.limits.maxMessagesPerSecond * 2, this.#startedAt);
    this.#log = options.log.child({ callSid: ticket.callSid });
    const { resilience } = options;
    this.#comfort = resilience.comfortSound === 'off' ? undefined : new ComfortAudio(resilience.comfortSound);
    this.#outage = new OutageGuard({
      comfortAfterMs: resilience.comfortAfterMs,
      budgetMs: resilience.outageBudgetMs,
      probationMs: STABLE_SESSION_MS,
      now: this.#now,
      ...(this.#comfort ? { comfortTick: () => this.#playComfort() } : {}),
      onBudgetSpent: () => this.handOff(`AI unreachable for ${Math.round(resilience.outageBudgetMs / 1000)} s`),
    });
    this.#caller = new CallerAudioPath(options.audioMode, (event) => this.#sendUpstream(event), resilience.callerBufferMs, this.#telemetry);
    this.#startTimer = setTimeout(() => this.end('rejected', 'no start message within the deadline', CLOSE_POLICY), options.startTimeoutMs);
    this.#housekeeping = setInterval(() => this.#guard(() => this.#tidy()), HOUSEKEEPING_MS);
    this.#link = new RealtimeLink(
      { connect: options.connectUpstream, now: this.#now, rolloverAfterMs: resilience.rolloverAfterMs, ...(options.reconnectPolicy ? { policy: options.reconnectPolicy } : {}) },
      {
        onEvent: (event) => this.#onUpstreamEvent(event),
        onMalformed: (detail) => {
          if (this.#malformedUpstream.take()) this.#log.warn({ detail }, 'ignored a malformed message from the AI server');
        },
        onSessionReady: (kind, send) => this.#guard(() => this.#onSessionReady(kind, send)) ?? false,
        onSessionActive: (kind) => this.#guard(() => this.#onSessionActive(kind)),
        onOutage: (reason) => this.#guard(() => this.#onOutage(reason)),
        onFatal: (reason) => this.#guard(() => this.handOff(`AI service unusable: ${reason}`)),
        onAttemptStart: (attempt, kind) => this.#telemetry.connectStarted(attempt, kind),
        onAttempt: (attempt) => {
          // A failed rollover leaves the old session serving; it is tried again later, not on every tick.
          if (attempt.kind === 'rollover' && attempt.outcome !== 'ok') this.#nextRolloverAt = this.#now() + ROLLOVER_RETRY_MS;
          if (attempt.outcome !== 'ok' && attempt.outcome !== 'abandoned') this.#log.warn({ attempt: attempt.attempt, kind: attempt.kind, outcome: attempt.outcome, reason: attempt.reason }, 'AI connect attempt failed');
          options.onConnectAttempt?.(attempt);
        },
      },
    );
    // Opening the AI session while Twilio sends `start` saves a round trip; caller audio waits in a bounded buffer.
    this.#link.start();
    this.#onOutage('connecting', true);
  }

  onTwilioMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.#state === 'ended') return;
    try {
      if (isBinary) return this.end('rejected', 'binary frame on a Media Streams socket', CLOSE_UNSUPPORTED);
      if (!this.#rate.take(this.#now())) return this.end('rejected', 'Twilio message rate exceeded', CLOSE_POLICY);
      // The Buffer itself goes to the parser: media frames are read from its bytes, without a string or JSON.parse.
      const parsed = parseTwilioMessage(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
      if (!parsed.ok) return this.#ignore(`${parsed.reason}: ${parsed.detail}`);
      this.#handle(parsed.message);
    } catch (err) {
      this.#log.error({ err }, 'call failed while handling a Twilio message');
      this.end('error', 'internal error', CLOSE_INTERNAL);
    }
  }

  /** The Twilio socket closed (hang-up, hand-off or network). */
  onTwilioClose(code: number): void {
    if (this.#state === 'ended') return;
    if (this.#state === 'handing_off') return this.end('fallback', 'handed to the fallback', undefined);
    this.end('twilio_closed', `Twilio socket closed (${code})`, undefined);
  }

  /**
   * Hands the call to the fallback TwiML through Twilio's REST API (which
   * ends the stream). If that fails, closing the socket makes Twilio run the
   * same fallback, which the webhook placed after <Connect>.
   */
  handOff(reason: string): void {
    if (this.#state === 'ended' || this.#state === 'handing_off') return;
    this.#log.error({ reason }, 'handing the call to the fallback');
    this.#state = 'handing_off';
    const fallback = this.#telemetry.fallback(reason);
    const rest = this.#telemetry.twilioRest('calls.update');
    // The caller hears comfort audio, not dead air, until Twilio ends the stream for the fallback.
    this.#outage.handingOff();
    // Every hand-off is the AI failing the call: a connect still under way counts as failed, not abandoned.
    this.#link.close('gave_up');
    this.#handoffTimer = setTimeout(() => this.end('fallback', `${reason}; Twilio did not end the stream`, CLOSE_INTERNAL), HANDOFF_GRACE_MS);
    this.options.callControl.redirect(this.ticket.callSid, `<Response>${this.options.fallbackVerbs}</Response>`).then(
      (found) => {
        rest.ok();
        fallback.ok();
        if (!found) this.end('twilio_closed', 'the call was already gone at hand-off', CLOSE_NORMAL);
      },
      (err: unknown) => {
        rest.fail('rest_error');
        fallback.fail('rest_error');
        this.#log.error({ detail: err instanceof Error ? err.message : String(err) }, 'REST hand-off failed; closing the stream so Twilio runs the fallback');
        this.end('fallback', reason, CLOSE_INTERNAL);
      },
    );
  }

  /** Ends the call once: stops timers, closes both sockets, logs a summary. */
  end(outcome: CallOutcome, reason: string, twilioCloseCode: number | undefined): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    clearTimeout(this.#startTimer);
    clearTimeout(this.#handoffTimer);
    clearTimeout(this.#hangupTimer);
    clearInterval(this.#housekeeping);
    this.#outage.stop();
    this.#assistant?.stop();
    this.#link.close();
    if (twilioCloseCode !== undefined) this.twilio.close(twilioCloseCode, closeReason(reason));
    // An outage that ended in the fallback, and the caller audio still waiting for a session, count too.
    const undelivered = this.#caller.waitingMs;
    const summary: CallSummary = {
      callSid: this.ticket.callSid,
      streamSid: this.#streamSid,
      outcome,
      reason,
      durationMs: this.#now() - this.#startedAt,
      framesIn: this.#caller.stats.framesIn,
      framesOut: this.#assistant?.stats.framesOut ?? 0,
      assistantAudioDroppedMs: this.#assistant?.stats.droppedMs ?? 0,
      maxLeadMs: this.#assistant?.stats.maxLeadMs ?? 0,
      gapFilledMs: this.#caller.stats.gapFilledMs,
      bargeIns: this.#bargeIns,
      ignoredMessages: this.#ignoredTwilio.count,
      malformedUpstreamMessages: this.#malformedUpstream.count,
      reconnects: this.#reconnects,
      rollovers: this.#rollovers,
      replyTimeouts: this.#replyTimeouts,
      outageMs: this.#outage.totalMs(),
      callerAudioDroppedMs: this.#caller.stats.droppedWhileWaitingMs + (outcome === 'fallback' ? undelivered : 0),
      callerAudioResentMs: this.#caller.stats.resentMs,
      comfortFrames: this.#comfortFrames,
    };
    const level = outcome === 'completed' || outcome === 'twilio_closed' || outcome === 'hung_up_by_agent' ? 'info' : 'warn';
    this.#log[level]({ summary }, `call ended: ${reason}`);
    this.#telemetry.ended(outcome);
    this.options.onEnded?.(summary);
  }

  #handle(message: TwilioMessage): void {
    switch (message.event) {
      case 'connected':
        return;
      case 'start':
        return this.#onStart(message);
      case 'media':
        if (this.#state === 'awaiting_start') return this.end('rejected', 'media before start', CLOSE_POLICY);
        if (message.streamSid !== this.#streamSid) return this.#ignore('media for another stream');
        if (message.track !== 'inbound') return;
        this.#lastMediaAt = this.#now();
        this.#caller.push(message.timestamp, message.payload, this.#lastMediaAt);
        return;
      case 'mark':
        if (message.streamSid !== this.#streamSid) return this.#ignore('mark for another stream');
        // A mark echo proves the line is alive even while the caller's silence is suppressed.
        this.#lastMediaAt = this.#now();
        this.#assistant?.acknowledgeMark(message.name);
        return;
      case 'dtmf':
        // Never the digit itself: callers key in PINs and card numbers.
        this.#log.info('caller pressed a key');
        return;
      case 'stop':
        if (this.#state === 'awaiting_start' || message.streamSid !== this.#streamSid) return this.#ignore('stop for another stream');
        if (this.#state === 'handing_off') return this.end('fallback', 'handed to the fallback', CLOSE_NORMAL);
        return this.end('completed', 'Twilio stopped the stream', CLOSE_NORMAL);
    }
  }

  #onStart(start: StartMessage): void {
    // A hand-off can begin before Twilio's start arrives (the AI failed fast): that start is still the first.
    const firstDuringHandoff = this.#state === 'handing_off' && this.#streamSid === undefined;
    if (this.#state !== 'awaiting_start' && !firstDuringHandoff) return this.end('rejected', 'a second start message', CLOSE_POLICY);
    if (start.callSid !== this.ticket.callSid) return this.end('rejected', 'start.callSid does not match the ticket', CLOSE_POLICY);
    const f = start.mediaFormat;
    if (f.encoding !== 'audio/x-mulaw' || f.sampleRate !== 8000 || f.channels !== 1) {
      return this.end('rejected', `unsupported media format ${f.encoding}/${f.sampleRate}/${f.channels}`, CLOSE_POLICY);
    }
    clearTimeout(this.#startTimer);
    if (!firstDuringHandoff) this.#state = 'streaming';
    this.#streamSid = start.streamSid;
    this.#log = this.#log.child({ streamSid: start.streamSid });
    this.#telemetry.streamStarted(start.streamSid);
    this.#assistant = new AssistantAudioPath(
      this.options.audioMode,
      this.options.maxOutboundLeadMs,
      start.streamSid,
      this.twilio,
      this.#now,
      // Audio waits in the pacer (bounded) while Twilio's socket is backed up, instead of piling into it.
      () => this.twilio.bufferedAmount < TWILIO_SOFT_BACKLOG_BYTES,
      this.#telemetry,
      (fn) => this.#guard(fn),
    );
    this.#log.info('media stream started');
    this.#log.debug({ customParameters: start.customParameters, tracks: start.tracks }, 'start message');
  }

  #sendUpstream(event: string): boolean {
    // A server that has stopped reading must not make this process buffer without bound.
    if (this.#link.bufferedAmount > UPSTREAM_BACKLOG_BYTES) return false;
    return this.#link.send(event);
  }

  // --- upstream sessions ---------------------------------------------------

  #onSessionReady(kind: SessionKind, send: (event: string) => boolean | void): boolean {
    if (kind === 'initial') return true;
    // A planned rollover switches only at a turn boundary; if the caller spoke meanwhile, try again later.
    if (kind === 'rollover' && this.#link.isUp && !this.#atTurnBoundary()) {
      this.#nextRolloverAt = this.#now() + ROLLOVER_POSTPONE_MS;
      return false;
    }
    // What the caller is still owed goes to the new session, which is then watched for it (nothing once end_call
    // is requested: the goodbye has been said):
    // - a tool result the dropped session never answered, a reply cut short, or a reply already asked for: ask;
    // - the caller's unanswered turns: ask for the answer if their transcripts are in the replay; if not, the
    //   new session hears the utterances again, from the first one not transcribed, and its VAD takes the turn.
    this.#handedOver = this.#hangupRequested ? NOTHING_HANDED_OVER : this.#owedToNewSession();
    // Utterances the new session hears again leave the text: the caller's words must not reach it twice.
    if (this.#handedOver.kind === 'utterances') this.#conversation.forgetUserItems(this.#handedOver.turnIds);
    // A new session knows nothing: replay the conversation as text so the AI neither greets again nor repeats itself.
    for (const event of this.#conversation.replayEvents()) send(event);
    if (this.#handedOver.kind === 'request') {
      send(createResponse());
      this.#askForReply = true;
    }
    return true;
  }

  #owedToNewSession(): HandOver {
    if (this.#conversation.owesResponse || this.#askForReply) return { kind: 'request' };
    if (!this.#replies.owed) return NOTHING_HANDED_OVER;
    const held = this.#caller.heldTurnIds;
    // From the first held turn with no transcript on, the turns go as audio (later ones too, transcribed or not,
    // so the new session hears the caller's turns in the order they were said).
    const from = held.findIndex((itemId) => !this.#conversation.hasTranscript(itemId));
    if (from >= 0) return { kind: 'utterances', turnIds: held.slice(from) };
    // Every held turn is in the text. Ask for the answer only if the caller's last words all are: words still
    // coming as audio (a turn in progress, or one resent to a session that dropped before taking it) would be
    // talked over by an answer, and that session's VAD takes the turn once they arrive.
    return this.#conversation.unansweredTranscribed ? { kind: 'request' } : { kind: 'utterances', turnIds: [] };
  }

  #atTurnBoundary(): boolean {
    // A turn the caller ended and the AI has not yet answered is no boundary: a switch then would lose it.
    return this.#activeResponseId === undefined && !this.#callerSpeaking && !this.#replies.owed && !(this.#assistant?.isPlaying ?? false);
  }

  #onSessionActive(kind: SessionKind): void {
    this.#telemetry.sessionActive(kind);
    this.#sessionItems = new Set();
    this.#callerSpeaking = false;
    if (kind === 'reconnect') this.#reconnects++;
    if (kind === 'rollover') this.#rollovers++;
    if (this.#outage.active) {
      if (this.#outage.counted) this.#log.info({ kind, outageMs: this.#outage.elapsedMs, bufferedMs: this.#caller.waitingMs }, 'AI session restored');
      this.#outage.up();
    } else if (kind === 'rollover') {
      this.#log.info({ replayedItems: this.#conversation.length }, 'rolled over to a fresh AI session');
    }
    // After a drop the new session has none of the utterance in progress: give it that first.
    if (kind === 'reconnect') this.#caller.resendUncommitted(this.#handedOver.kind === 'utterances' ? this.#handedOver.turnIds : undefined);
    else this.#caller.startFresh();
    this.#replies.sessionChanged(this.#now(), this.#handedOver.kind !== 'nothing');
    this.#handedOver = NOTHING_HANDED_OVER;
    this.#caller.flush();
  }

  /** The AI is away (or not yet reached): end the speaking response, then let the outage guard keep time. */
  #onOutage(reason: string, initial = false): void {
    if (this.#state === 'ended' || this.#state === 'handing_off') return;
    if (!initial) {
      this.#log.warn({ reason }, 'AI session lost; reconnecting');
      this.#telemetry.upstreamLost(reason);
    }
    // The response that was speaking is over: whatever was received plays out. If its audio was still coming,
    // the new session is asked to finish the reply (the replay holds its words so far).
    if (this.#replies.cutShort) this.#askForReply = true;
    if (this.#activeResponseId !== undefined) {
      this.#cancelled.add(this.#activeResponseId);
      const itemId = this.#audioItemOf.get(this.#activeResponseId);
      this.#audioItemOf.delete(this.#activeResponseId);
      if (itemId !== undefined) {
        this.#conversation.assistantInterrupted(itemId, Infinity, Infinity);
        // No response.done will come: let its last partial frame play, or the line stays "busy" and silent.
        this.#assistant?.endItem(itemId);
      }
      this.#activeResponseId = undefined;
    }
    this.#callerSpeaking = false;
    // A tool output still waiting for its response.create is answered on the new session (owesResponse).
    this.#respondAfterDone = false;
    this.#outage.down(initial);
  }

  #playComfort(): void {
    // Comfort audio never plays over the assistant's last words, and only once Twilio is streaming.
    if (this.#assistant === undefined || this.#streamSid === undefined || this.#assistant.isPlaying) return;
    if (this.twilio.bufferedAmount >= TWILIO_SOFT_BACKLOG_BYTES) return;
    this.twilio.send(mediaMessage(this.#streamSid, this.#comfort!.nextFrame()));
    this.#comfortFrames++;
  }

  /** Periodic checks: rollover at a turn boundary, a stalled server, a pending hang-up. */
  #tidy(): void {
    if (this.#state !== 'streaming') return;
    const now = this.#now();
    const { mediaIdleTimeoutMs, twilioMaxBacklogBytes } = this.options.limits;
    if (now - this.#lastMediaAt > mediaIdleTimeoutMs) {
      return this.end('idle_timeout', `no media from Twilio for ${Math.round(mediaIdleTimeoutMs / 1000)} s`, CLOSE_NORMAL);
    }
    // With no media at all, the caller's line is silent: the AI must hear that silence to end the turn.
    // Not right after an event-loop stall, though: then frames are merely queued unread, not missing.
    const tickLate = now - this.#lastTidyAt > HOUSEKEEPING_MS * 2;
    this.#lastTidyAt = now;
    const quietMs = now - this.#lastMediaAt;
    // Only once media has flowed: before the first frame there is no stream clock to keep true.
    if (quietMs > SILENCE_FILL_AFTER_MS && !tickLate && this.#caller.stats.framesIn > 0) this.#caller.fillSilenceTo(this.#caller.lastFrameEndMs + quietMs - SILENCE_FILL_MARGIN_MS);
    const backlog = this.twilio.bufferedAmount;
    if (backlog > twilioMaxBacklogBytes) return this.#endNotDraining(`Twilio socket not draining (${backlog} bytes queued)`);
    if (backlog >= TWILIO_SOFT_BACKLOG_BYTES) {
      this.#twilioBackedUpSince ??= now;
      // Not on a late tick: after this process stalled, the socket had no chance to drain what it queued.
      if (now - this.#twilioBackedUpSince > TWILIO_STALL_MS && !tickLate) {
        return this.#endNotDraining(`Twilio socket not draining (${backlog} bytes queued for over ${TWILIO_STALL_MS / 1000} s)`);
      }
    } else {
      this.#twilioBackedUpSince = undefined;
    }
    if (this.#link.isUp && this.#link.bufferedAmount > UPSTREAM_BACKLOG_BYTES) {
      this.#stalledSince ??= now;
      if (now - this.#stalledSince > UPSTREAM_STALL_MS) {
        this.#stalledSince = undefined;
        this.#link.replace('AI server stopped reading');
      }
    } else {
      this.#stalledSince = undefined;
    }
    if (this.#link.isUp && this.#replies.overdue(now)) return this.#onNoReply();
    this.#assistant?.tidyMarks();
    if (this.#link.isUp && this.#caller.waitingMs > 0) this.#caller.flush();
    const atTurnBoundary = this.#atTurnBoundary();
    if (this.#hangupRequested && atTurnBoundary) {
      this.#hangupRequested = false;
      this.#hangUp();
      return;
    }
    if (atTurnBoundary && this.#link.rolloverDue && now >= this.#nextRolloverAt) {
      this.#telemetry.rolloverStarted('session_age');
      this.#link.rollover();
    }
  }

  /** The session owes the caller a reply and has given none in time: replace it, or give up on the service. */
  #onNoReply(): void {
    this.#replyTimeouts++;
    this.#telemetry.replyTimedOut(this.#replies.timeoutMs);
    const seconds = Math.round(this.#replies.timeoutMs / 100) / 10;
    if (this.#replies.missed() >= MAX_REPLY_MISSES) return this.handOff(`the AI did not reply within ${seconds} s, twice in a row`);
    // Handled as a drop (#onOutage): the new session gets the conversation, the unanswered turn, and the request
    // to finish a reply that went silent after the caller heard part of it (see #onSessionReady).
    this.#link.replace(`the AI did not reply within ${seconds} s`);
  }

  /** Twilio stopped taking what the bridge sends: the caller hears nothing more of this call. */
  #endNotDraining(reason: string): void {
    this.#assistant?.dropQueued();
    this.end('overloaded', reason, CLOSE_INTERNAL);
  }

  #onUpstreamEvent(event: ServerEvent): void {
    if (this.#state !== 'streaming' && this.#state !== 'awaiting_start') return;
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
        this.#replies.progress(this.#now(), true);
        this.#askForReply = false;
        this.#caller.replyHeard();
        this.#audioItemOf.set(event.responseId, event.itemId);
        this.#sessionItems.add(event.itemId);
        this.#assistant.pushDelta(event.itemId, event.delta);
        return;
      case 'input_audio_buffer.committed':
        this.#caller.committed(event.itemId);
        return;
      case 'input_audio_buffer.speech_started':
        this.#callerSpeaking = true;
        // The caller's new turn takes the place of a reply asked for and not yet heard.
        this.#askForReply = false;
        this.#replies.callerSpeaking(this.#now());
        this.#caller.speechStarted();
        this.#conversation.userSpeech(event.itemId);
        return this.#bargeIn();
      case 'input_audio_buffer.speech_stopped':
        this.#callerSpeaking = false;
        // The service's VAD ends the turn and answers it (create_response): the answer is now owed.
        this.#replies.owe(this.#now());
        this.#telemetry.speechStopped();
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.#conversation.userTranscript(event.itemId, event.transcript);
        return;
      case 'response.output_audio_transcript.delta':
        // A cancelled response's words arrive late: the caller never hears them, and they are no sign of a reply.
        if (this.#cancelled.has(event.responseId) || this.#conversation.wasInterrupted(event.itemId)) return;
        this.#conversation.assistantDelta(event.itemId, event.delta);
        this.#replies.progress(this.#now(), false);
        return;
      case 'response.output_audio.done':
        if (event.responseId === this.#activeResponseId) this.#replies.spoken();
        return;
      case 'response.output_audio_transcript.done':
        this.#conversation.assistantDone(event.itemId, event.transcript);
        return;
      case 'response.created':
        this.#activeResponseId = event.responseId;
        this.#replies.began(this.#now());
        this.#telemetry.responseCreated();
        return;
      case 'response.done': {
        // The server may report "completed" for a response the bridge cancelled (it finished before the cancel
        // arrived): to the call it is cancelled all the same.
        const cancelled = this.#cancelled.delete(event.responseId) || event.status === 'cancelled';
        // A late done of a cancelled response settles nothing while another runs.
        if (this.#activeResponseId === event.responseId || (this.#activeResponseId === undefined && !cancelled)) {
          this.#activeResponseId = undefined;
          this.#replies.answered(event.status === 'completed', this.#now());
          if (event.status === 'completed') {
            this.#caller.replyHeard();
            this.#askForReply = false;
          }
        }
        const itemId = this.#audioItemOf.get(event.responseId);
        this.#audioItemOf.delete(event.responseId);
        if (itemId !== undefined) this.#assistant?.endItem(itemId);
        this.#log.debug({ responseId: event.responseId, status: event.status }, 'response done');
        this.#telemetry.responseDone({ id: event.responseId, status: event.status, ...event.usage });
        if (this.#respondAfterDone) {
          this.#respondAfterDone = false;
          // Not over the caller, not for a response the caller cut short (their turn's reply will see the output),
          // and not while another response runs (the service would refuse it).
          if (!cancelled && !this.#callerSpeaking && this.#activeResponseId === undefined) {
            this.#link.send(createResponse());
            this.#replies.owe(this.#now());
          }
        }
        return;
      }
      case 'response.function_call_arguments.done':
        if (!this.#cancelled.has(event.responseId)) {
          this.#replies.progress(this.#now(), true);
          this.#askForReply = false;
        }
        return this.#onToolCall(event.callId, event.name, event.arguments);
      case 'error':
        // The link rolls over at once (realtime-link.ts); the phase is traced like a planned one.
        if (event.code === 'session_expired') this.#telemetry.rolloverStarted('session_expired');
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
    const interrupted = this.#assistant?.interrupt() ?? [];
    if (interrupted.length > 0) this.#bargeIns++;
    for (const { itemId, heardMs } of interrupted) {
      const received = this.#assistant!.receivedMs(itemId);
      this.#conversation.assistantInterrupted(itemId, heardMs, received);
      // Truncating at or past the item's end is an error on the server, as is an item of a previous session.
      if (heardMs < received && this.#sessionItems.has(itemId)) this.#link.send(truncateItem(itemId, heardMs));
      this.#log.info({ itemId, heardMs }, 'caller barged in');
    }
    // The caller was hearing the oldest interrupted item.
    this.#telemetry.speechStarted(interrupted[0]?.heardMs);
    if (this.#activeResponseId !== undefined) {
      this.#cancelled.add(this.#activeResponseId);
      this.#link.send(cancelResponse());
      this.#activeResponseId = undefined;
    }
  }

  #onToolCall(callId: string, name: string, args: string): void {
    // The same call can be announced twice (arguments done, then the item done): act once.
    if (this.#handledCalls.has(callId)) return;
    if (this.#handledCalls.size > 256) this.#handledCalls.clear();
    this.#handledCalls.add(callId);
    this.#conversation.functionCall(callId, name, args);
    if (name === 'end_call') {
      const output = { ok: true, note: 'the call ends once the goodbye has played' };
      this.#conversation.functionOutput(callId, JSON.stringify(output));
      this.#link.send(functionCallOutput(callId, output));
      // Hang up only once the goodbye has played out (checked at each housekeeping tick).
      this.#hangupRequested = true;
      return;
    }
    const output = { error: `unknown tool ${name.slice(0, 60)}` };
    this.#conversation.functionOutput(callId, JSON.stringify(output));
    this.#link.send(functionCallOutput(callId, output));
    this.#respondAfterDone = true;
  }

  #hangUp(attempt = 1): void {
    if (attempt === 1) this.#log.info('the agent ended the call');
    const rest = this.#telemetry.twilioRest('calls.update');
    this.options.callControl.hangup(this.ticket.callSid).then(
      () => {
        rest.ok();
        this.end('hung_up_by_agent', 'the agent ended the call', CLOSE_NORMAL);
      },
      (err: unknown) => {
        rest.fail('rest_error');
        const detail = err instanceof Error ? err.message : String(err);
        if (this.#state === 'ended') return;
        // Closing the stream instead would make Twilio run the fallback after <Connect>: an apology, or a transfer
        // to people, for a caller who has just been told goodbye. Worth a retry or two first.
        if (attempt < HANGUP_ATTEMPTS) {
          this.#log.warn({ detail, attempt }, 'REST hang-up failed; retrying');
          this.#hangupTimer = setTimeout(() => this.#guard(() => this.#hangUp(attempt + 1)), HANGUP_RETRY_MS * attempt);
          return;
        }
        this.#log.warn({ detail, attempts: attempt }, 'REST hang-up failed; closing the stream (Twilio then runs the TwiML after <Connect>)');
        this.end('hung_up_by_agent', 'the agent ended the call', CLOSE_NORMAL);
      },
    );
  }

  /** Runs a callback (upstream link, timers): a bug there ends this call, never the process. */
  #guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.#log.error({ err }, 'call failed in a callback');
      try {
        this.end('error', 'internal error', CLOSE_INTERNAL);
      } catch {
        // end() failing too must still not reach the process.
      }
      return undefined;
    }
  }

  #ignore(why: string): void {
    if (this.#ignoredTwilio.take()) this.#log.warn({ why }, 'ignored a message from Twilio');
  }
}
