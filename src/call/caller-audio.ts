// Owns the caller → AI audio path of one call: decode Twilio's base64 μ-law,
// fill network gaps with silence, transcode to the session's input format,
// and hand `input_audio_buffer.append` events to the upstream. While the
// upstream is not open, appends wait in a bounded queue (oldest dropped
// first, and counted) so no caller audio is lost to a short setup delay.

import type { AudioMode } from '../config/config.js';
import { createInboundTranscoder, MULAW_SILENCE, type InboundTranscoder } from '../audio/index.js';
import { appendAudio } from '../upstream/client-events.js';
import { InboundTimeline } from './inbound-timeline.js';
import { MulawRing } from './mulaw-ring.js';
import { NO_TELEMETRY, type CallTelemetry } from './call-telemetry.js';

const FRAME_BYTES = 160;
const SILENT_FRAME = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
/** Base64 of a view, without copying it first. */
const base64Of = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const SILENT_FRAME_BASE64 = base64Of(SILENT_FRAME);

/** Outside speech, this much recent audio is kept for a replay: the VAD's prefix padding (VAD_PREFIX_PADDING_MS is at most this). */
const UNCOMMITTED_PADDING_MS = 1000;
/** While the caller speaks, this much of the utterance is kept for a replay (48 KB of μ-law at most). */
const UNCOMMITTED_SPEECH_MS = 6000;
/** Committed utterances still waiting for a reply are kept up to this much (the newest, 96 KB at most). */
const UNANSWERED_MS = 2 * UNCOMMITTED_SPEECH_MS;

export interface CallerAudioStats {
  /** Uncommitted audio sent again to a session that replaced a dropped one. */
  resentMs: number;
  framesIn: number;
  staleFrames: number;
  gapFilledMs: number;
  droppedWhileWaitingMs: number;
}

/** Sends one client event upstream; false when the upstream cannot take it now. */
export type UpstreamSink = (event: string) => boolean;

export class CallerAudioPath {
  readonly stats: CallerAudioStats = { resentMs: 0, framesIn: 0, staleFrames: 0, gapFilledMs: 0, droppedWhileWaitingMs: 0 };
  readonly #timeline = new InboundTimeline();
  readonly #transcoder: InboundTranscoder | undefined;
  // Reused for every decode: Buffer.write decodes base64 in place without allocating.
  #decodeBuffer = Buffer.alloc(4096);
  // `resent`: audio a replaced session had and its successor must hear; never trimmed for newer audio.
  readonly #waiting: { event: string; ms: number; mulaw: Uint8Array | string; resent?: boolean }[] = [];
  #waitingMs = 0;
  // Recent caller audio, raw μ-law, in one ring per call (8 KB, grown once to 48 KB if the caller speaks):
  // - from `#uncommittedFrom` on, what the current session has received since its last commit. A new session
  //   never had it, so after a drop it is sent again: frames lost in the dying socket and a half-heard
  //   utterance both reach the AI;
  // - before that, the committed utterances no reply has reached yet (a caller may ask, then say "hello?"), by
  //   the session's item id: a session that took the turns and never answered is replaced, and the new one
  //   hears again those whose transcripts never came. A turn stays where it is in the ring (a reply usually
  //   comes within a second), so holding one allocates nothing; only one about to be overwritten is copied out.
  readonly #recent = new MulawRing(UNCOMMITTED_PADDING_MS * 8, UNCOMMITTED_SPEECH_MS * 8);
  #uncommittedFrom = 0;
  readonly #unanswered: { readonly itemId: string; readonly from: number; readonly to: number; copy?: Uint8Array }[] = [];
  #unansweredBytes = 0;
  // Turns resent to a new session are its uncommitted audio, kept whole (not trimmed to the padding) until it
  // commits or answers them: if it drops first, the next session hears them again.
  #keepResent = false;
  #callerSpeaking = false;

  constructor(
    private readonly mode: AudioMode,
    private readonly send: UpstreamSink,
    private readonly maxWaitingMs = 10_000,
    private readonly telemetry: CallTelemetry = NO_TELEMETRY,
  ) {
    this.#transcoder = mode === 'pcm24k' ? createInboundTranscoder() : undefined;
  }

  /**
   * One Twilio media payload (base64, already shape-checked) at a Twilio timestamp, received at `nowMs` (the
   * session's clock, which bounds the silence filled for timestamp gaps).
   */
  push(timestampMs: number, payloadBase64: string, nowMs: number): void {
    const byteLength = (payloadBase64.length / 4) * 3 - (payloadBase64.endsWith('==') ? 2 : payloadBase64.endsWith('=') ? 1 : 0);
    const verdict = this.#timeline.accept(timestampMs, byteLength, nowMs);
    if (verdict.kind === 'stale') {
      this.stats.staleFrames++;
      this.telemetry.framesDropped('late', 1);
      return;
    }
    this.stats.framesIn++;
    this.telemetry.framesIn(1);
    if (verdict.fillMs > 0) this.#fillSilence(verdict.fillMs);
    if (this.#transcoder === undefined) {
      // μ-law passthrough: Twilio's base64 is already what the session expects.
      this.#emit(appendAudio(payloadBase64), byteLength / 8, payloadBase64);
      return;
    }
    if (byteLength > this.#decodeBuffer.length) this.#decodeBuffer = Buffer.alloc(byteLength);
    const written = this.#decodeBuffer.write(payloadBase64, 'base64');
    this.#transcodeAndEmit(this.#decodeBuffer.subarray(0, written));
  }

  /** End (stream ms) of the last real frame from Twilio. */
  get lastFrameEndMs(): number {
    return this.#timeline.lastRealEndMs;
  }

  /** No media has come for a while (the network drops silence): deliver silence up to `streamMs`. */
  fillSilenceTo(streamMs: number): void {
    const ms = this.#timeline.fillTo(streamMs);
    if (ms > 0) this.#fillSilence(ms);
  }

  /** The caller began an utterance: keep all of it until it is committed. */
  speechStarted(): void {
    this.#callerSpeaking = true;
    this.#recent.reserve(UNCOMMITTED_SPEECH_MS * 8);
  }

  /** The session committed the input so far as `itemId`: it is the AI's now, but kept until a reply to it is heard. */
  committed(itemId: string): void {
    this.#callerSpeaking = false;
    this.#keepResent = false;
    const from = Math.max(this.#uncommittedFrom, this.#recent.start);
    const to = this.#recent.end;
    if (to > from) {
      this.#unanswered.push({ itemId, from, to });
      this.#unansweredBytes += to - from;
      while (this.#unansweredBytes > UNANSWERED_MS * 8 && this.#unanswered.length > 1) {
        const oldest = this.#unanswered.shift()!;
        this.#unansweredBytes -= oldest.to - oldest.from;
      }
    }
    this.#uncommittedFrom = to;
    this.#trimRecent();
  }

  /** Item ids of the committed utterances held for a replay (no reply reached them yet), oldest first. */
  get heldTurnIds(): string[] {
    return this.#unanswered.map((turn) => turn.itemId);
  }

  /** A first or planned session starts from here (at a turn boundary): nothing held is owed to it. */
  startFresh(): void {
    this.#callerSpeaking = false;
    this.#keepResent = false;
    this.#uncommittedFrom = this.#recent.end;
    this.replyHeard();
    this.#trimRecent();
  }

  /** The reply's audio is arriving (or the reply completed): the session that heard the caller's turns answered them. */
  replyHeard(): void {
    this.#keepResent = false;
    if (this.#unanswered.length === 0) return;
    this.#unanswered.length = 0;
    this.#unansweredBytes = 0;
    this.#trimRecent();
  }

  /**
   * A new session replaced a dropped one: send it the uncommitted audio the
   * old one had, then what waited during the outage. With `turnIds`, the new
   * session owes the caller an answer to their words, heard again as audio:
   * those held turns (committed, no reply reached them) go first, and all
   * of it is kept until the new session commits or answers it. Call before
   * `flush`.
   */
  resendUncommitted(turnIds?: readonly string[]): void {
    const resent = this.#unanswered.filter((turn) => turnIds?.includes(turn.itemId) === true);
    const parts = [...resent.map((turn) => turn.copy ?? this.#recent.read(turn.from, turn.to)), this.#recent.read(this.#uncommittedFrom)];
    const audio = Buffer.concat(parts);
    this.#uncommittedFrom = this.#recent.end;
    this.replyHeard();
    this.#keepResent = turnIds !== undefined;
    this.#trimRecent();
    if (audio.length === 0) return;
    // A fresh resampler for the replay: the live one's state belongs to the audio after it.
    const transcoder = this.mode === 'pcm24k' ? createInboundTranscoder() : undefined;
    const replay: { event: string; ms: number; mulaw: Uint8Array; resent: true }[] = [];
    for (let at = 0; at < audio.length; at += FRAME_BYTES) {
      const mulaw = audio.subarray(at, Math.min(audio.length, at + FRAME_BYTES));
      replay.push({ event: appendAudio(base64Of(transcoder === undefined ? mulaw : transcoder.transcode(mulaw))), ms: mulaw.length / 8, mulaw, resent: true });
    }
    // Ahead of anything that waited: it is older.
    this.#waiting.unshift(...replay);
    for (const r of replay) {
      this.#waitingMs += r.ms;
      this.stats.resentMs += r.ms;
    }
  }

  /** The upstream opened (or reopened): send what waited, in order. */
  flush(): void {
    while (this.#waiting.length > 0) {
      const next = this.#waiting[0]!;
      if (!this.send(next.event)) return;
      this.#waiting.shift();
      this.#waitingMs -= next.ms;
      this.#retain(next.mulaw);
    }
  }

  /** Buffered milliseconds of caller audio not yet delivered upstream. */
  get waitingMs(): number {
    return this.#waitingMs;
  }

  #fillSilence(ms: number): void {
    this.stats.gapFilledMs += ms;
    this.telemetry.gapFilledFrames(Math.ceil(ms / 20));
    let bytes = ms * 8;
    while (bytes > 0) {
      const n = Math.min(bytes, FRAME_BYTES);
      if (this.#transcoder === undefined) {
        const base64 = n === FRAME_BYTES ? SILENT_FRAME_BASE64 : base64Of(SILENT_FRAME.subarray(0, n));
        this.#emit(appendAudio(base64), n / 8, base64);
      } else {
        this.#transcodeAndEmit(SILENT_FRAME.subarray(0, n));
      }
      bytes -= n;
    }
  }

  #transcodeAndEmit(mulaw: Uint8Array): void {
    const t0 = performance.now();
    const pcm = this.#transcoder!.transcode(mulaw);
    this.telemetry.transcoded('in', (performance.now() - t0) * 1000);
    this.#emit(appendAudio(base64Of(pcm)), mulaw.length / 8, mulaw);
  }

  /** Keeps a sent append's audio for a possible replay: the utterance while the caller speaks, else the last second. */
  #retain(mulaw: Uint8Array | string): void {
    // Passthrough keeps Twilio's base64; decode it into the scratch buffer, not a new one.
    const bytes = typeof mulaw === 'string' ? this.#decodeBuffer.subarray(0, this.#decodeBuffer.write(mulaw, 'base64')) : mulaw;
    // A held turn the write would overwrite is copied out first (a reply slow to come, or a long turn).
    const overwrittenBefore = this.#recent.end + bytes.length - this.#recent.capacity;
    for (const turn of this.#unanswered) if (turn.copy === undefined && turn.from < overwrittenBefore) turn.copy = this.#recent.read(turn.from, turn.to);
    this.#recent.write(bytes);
    if (!this.#callerSpeaking && !this.#keepResent) this.#uncommittedFrom = Math.max(this.#uncommittedFrom, this.#recent.end - UNCOMMITTED_PADDING_MS * 8);
    this.#trimRecent();
  }

  /** The ring keeps the held turns still in it and the uncommitted audio; anything older is forgotten. */
  #trimRecent(): void {
    let keepFrom = this.#uncommittedFrom;
    for (const turn of this.#unanswered) {
      if (turn.copy === undefined) {
        keepFrom = Math.min(keepFrom, turn.from);
        break;
      }
    }
    this.#recent.dropBefore(keepFrom);
  }

  /** `mulaw` is the frame's audio as received; it is copied only if it has to wait. */
  #emit(event: string, ms: number, mulaw: Uint8Array | string): void {
    // Older audio goes first: after a backpressure blip the queue drains here, not only on a new session.
    if (this.#waiting.length > 0) this.flush();
    if (this.#waiting.length === 0 && this.send(event)) {
      this.#retain(mulaw);
      return;
    }
    this.#waiting.push({ event, ms, mulaw: typeof mulaw === 'string' ? mulaw : Buffer.from(mulaw) });
    this.#waitingMs += ms;
    while (this.#waitingMs > this.maxWaitingMs) {
      // The oldest audio goes first, except what a replaced session had: the caller's unanswered words.
      const at = this.#waiting[0]?.resent === true ? this.#waiting.findIndex((w) => w.resent !== true) : 0;
      if (at < 0 || at >= this.#waiting.length) break;
      const dropped = this.#waiting.splice(at, 1)[0]!;
      this.#waitingMs -= dropped.ms;
      this.stats.droppedWhileWaitingMs += dropped.ms;
      this.telemetry.framesDropped('upstream_down', 1);
    }
  }
}
