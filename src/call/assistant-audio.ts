// Owns the AI → caller audio path of one call: decode audio deltas,
// transcode them to μ-law 8 kHz, pace them to Twilio close to real time
// (see outbound-pacer), place marks so the MarkLedger learns what was
// heard, and silence the line at once on barge-in. Deltas of a response the bridge cancelled never
// reach this class (the session drops them).

import type { AudioMode } from '../config/config.js';
import { createOutboundTranscoder, type OutboundTranscoder } from '../audio/index.js';
import { clearMessage, markMessage, mediaMessage } from '../twilio/media-stream-writer.js';
import { MarkLedger, type Interruption } from './mark-ledger.js';
import { FRAME_MS, OutboundPacer } from './outbound-pacer.js';
import { NO_TELEMETRY, type CallTelemetry } from './call-telemetry.js';

/** How soon a backed-up Twilio socket is looked at again. */
const RETRY_MS = 20;
/** A mark once 60 ms or more went out unmarked (after each message): truncation knows what was heard to about a message. */
const MARK_EVERY_MS = 60;

/** Twilio's socket as this path sees it. */
export interface TwilioSink {
  /** What one tick sends (media and its mark) leaves in one socket write: see net/write-coalescer. */
  send(text: string): void;
}

export interface AssistantAudioStats {
  framesOut: number;
  maxLeadMs: number;
  /** Assistant audio dropped (oldest first) because it could not be sent in time. */
  droppedMs: number;
}

/** One second of 24 kHz PCM16: deltas are usually 0.1-0.2 s. */
const MAX_DECODE_SCRATCH_BYTES = 48_000;
/** Queued assistant audio beyond this is dropped oldest first: memory stays bounded when Twilio stalls. */
const MAX_QUEUED_MS = 60_000;
/** No frame for this long (two frame times) means the audio stalled, not a stream arriving at real time. */
const TAIL_MARK_AFTER_MS = 40;
/** Far beyond the lead (≤ 200 ms) plus any network delay: an echo this late is not coming. */
const MARK_OVERDUE_MS = 5000;

export class AssistantAudioPath {
  readonly stats: AssistantAudioStats = { framesOut: 0, maxLeadMs: 0, droppedMs: 0 };
  readonly ledger = new MarkLedger();
  readonly #pacer: OutboundPacer;
  readonly #transcoder: OutboundTranscoder | undefined;
  readonly #receivedMs = new Map<string, number>();
  #lastSentAt = 0;
  #endedItem: string | undefined;
  #decodeBuffer = Buffer.allocUnsafe(4096);
  #timer: NodeJS.Timeout | undefined;

  constructor(
    mode: AudioMode,
    maxLeadMs: number,
    private readonly streamSid: string,
    private readonly twilio: TwilioSink,
    private readonly now: () => number,
    private readonly twilioReady: () => boolean = () => true,
    private readonly telemetry: CallTelemetry = NO_TELEMETRY,
    /** Runs the pacer's timer callback; the session's guard ends the call (never the process) if it throws. */
    private readonly runGuarded: (fn: () => void) => void = (fn) => fn(),
  ) {
    this.#pacer = new OutboundPacer(maxLeadMs);
    this.#transcoder = mode === 'pcm24k' ? createOutboundTranscoder() : undefined;
  }

  /** One `response.output_audio.delta` payload (base64, session output format). */
  pushDelta(itemId: string, base64: string): void {
    // Decoded into scratch, not a new buffer per delta: the pacer copies what it keeps into its ring. A delta
    // too big for the scratch at its largest gets a buffer of its own, so one huge delta is not kept all call.
    const bytes = Buffer.byteLength(base64, 'base64');
    if (bytes > this.#decodeBuffer.length && bytes <= MAX_DECODE_SCRATCH_BYTES) this.#decodeBuffer = Buffer.allocUnsafe(bytes);
    const scratch = bytes <= this.#decodeBuffer.length ? this.#decodeBuffer : Buffer.allocUnsafe(bytes);
    const raw = scratch.subarray(0, scratch.write(base64, 'base64'));
    let mulaw: Uint8Array;
    if (this.#transcoder === undefined) {
      mulaw = raw;
      this.#addReceived(itemId, raw.length / 8);
    } else {
      const t0 = performance.now();
      mulaw = this.#transcoder.transcode(raw);
      this.telemetry.transcoded('out', (performance.now() - t0) * 1000);
      this.#addReceived(itemId, raw.length / 48);
    }
    this.#pacer.enqueue(itemId, mulaw);
    this.#dropBeyondBound();
    this.tick();
  }

  /** The response finished: its last partial frame may go out. */
  endItem(itemId: string): void {
    this.#pacer.endItem(itemId);
    this.#endedItem = itemId;
    this.tick();
  }

  /** Milliseconds of audio the AI produced for this item. */
  receivedMs(itemId: string): number {
    return this.#receivedMs.get(itemId) ?? 0;
  }

  /** True while assistant audio is queued here or still playing at Twilio. */
  get isPlaying(): boolean {
    return this.#pacer.queuedMs > 0 || this.ledger.hasUnplayedAudio;
  }

  /**
   * Periodic mark upkeep. Audio that stopped mid-answer without an end (no
   * response.done yet, or never) gets a mark for its unmarked tail, so the
   * ledger cannot count it as playing forever; an echo far overdue (well past
   * the lead) was lost: take that audio as played.
   */
  tidyMarks(): void {
    const now = this.now();
    if (this.ledger.unmarkedMs > 0 && this.#pacer.queuedMs === 0 && now - this.#lastSentAt > TAIL_MARK_AFTER_MS) this.#placeMark();
    this.ledger.expireOverdue(now, MARK_OVERDUE_MS);
  }

  acknowledgeMark(name: string): boolean {
    return this.ledger.acknowledge(name);
  }

  /** Sends what pacing allows now. Runs on its own timer while audio is queued. */
  tick(): void {
    const now = this.now();
    let sent = false;
    if (!this.twilioReady()) {
      this.#dropBeyondBound();
      // A backed-up socket still takes the answer's last mark: it queues behind the audio it covers.
      this.#markEndOfItem();
      return this.#schedule();
    }
    for (let chunk = this.#pacer.next(now); chunk !== undefined; chunk = this.#pacer.next(now)) {
      // The answer before this one ends here: its tail gets a mark of its own, so a barge-in while it still plays
      // truncates it where it was heard, not only the new answer.
      if (chunk.itemId !== this.ledger.currentItemId) this.#placeMark();
      this.#lastSentAt = now;
      this.twilio.send(mediaMessage(this.streamSid, chunk.bytes));
      this.ledger.recordSent(chunk.itemId, chunk.ms);
      const frames = Math.ceil(chunk.ms / FRAME_MS);
      this.stats.framesOut += frames;
      this.telemetry.audioSent();
      this.telemetry.framesOut(frames);
      sent = true;
      if (this.ledger.unmarkedMs >= MARK_EVERY_MS) this.#placeMark();
    }
    if (sent) {
      const lead = this.#pacer.leadMs(now);
      if (lead > this.stats.maxLeadMs) this.stats.maxLeadMs = lead;
      this.telemetry.outboundLead(lead);
    }
    this.#markEndOfItem();
    this.#schedule();
  }

  /**
   * The end of an answer gets a mark of its own, so the ledger learns when its
   * last audio played. Not the end of every burst: deltas that arrive at real
   * time empty the queue after each frame, and a mark per frame would triple
   * the marks and their echoes for no gain in truncation accuracy (the ledger
   * counts unmarked audio as still playing meanwhile).
   */
  #markEndOfItem(): void {
    // The ledger's current item is the one whose audio went out last.
    if (this.ledger.unmarkedMs > 0 && this.#pacer.queuedMs === 0 && this.ledger.currentItemId === this.#endedItem) this.#placeMark();
  }

  /**
   * Barge-in: clear Twilio's playback buffer, drop queued audio and filter
   * state, and report, oldest first, what each interrupted item had played:
   * items still playing, and items whose audio waited here unheard.
   */
  interrupt(): Interruption[] {
    if (!this.isPlaying) return [];
    const queued = this.#pacer.queuedItemIds;
    this.twilio.send(clearMessage(this.streamSid));
    this.#pacer.clear(this.now());
    this.#transcoder?.reset();
    this.#schedule();
    const interrupted = this.ledger.clear();
    // Queued audio never went out: the caller heard of its item only what was sent before it (none if it had not
    // started).
    for (const itemId of queued) {
      if (!interrupted.some((i) => i.itemId === itemId)) interrupted.push({ itemId, heardMs: this.ledger.heardMs(itemId), sentMs: this.ledger.sentMs(itemId) });
    }
    return interrupted;
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Twilio will take no more: the queued audio is dropped, and counted as dropped for backpressure. */
  dropQueued(): void {
    this.#countDropped(this.#pacer.queuedMs);
    this.#pacer.clear(this.now());
    this.#schedule();
  }

  #dropBeyondBound(): void {
    const excess = this.#pacer.queuedMs - MAX_QUEUED_MS;
    if (excess > 0) this.#countDropped(this.#pacer.dropOldest(excess));
  }

  #countDropped(ms: number): void {
    if (ms <= 0) return;
    this.stats.droppedMs += ms;
    this.telemetry.framesDropped('backpressure', Math.ceil(ms / 20));
  }

  #placeMark(): void {
    const name = this.ledger.placeMark(this.now());
    if (name !== undefined) this.twilio.send(markMessage(this.streamSid, name));
  }

  #addReceived(itemId: string, ms: number): void {
    if (this.#receivedMs.size > 64 && !this.#receivedMs.has(itemId)) this.#receivedMs.clear();
    this.#receivedMs.set(itemId, (this.#receivedMs.get(itemId) ?? 0) + ms);
  }

  /**
   * Wakes the path when the pacer can next release audio (audio that waits for more of its item needs no timer:
   * the next delta or the item's end ticks). A pending wake-up is kept: the lead only grows between clears, so it
   * is never too late, and one that comes early just schedules the next.
   */
  #schedule(): void {
    const wait = this.#pacer.queuedMs > 0 && !this.twilioReady() ? RETRY_MS : this.#pacer.heldForMs(this.now());
    if (wait === undefined) this.stop();
    else if (this.#timer === undefined) this.#timer = setTimeout(this.#wake, Math.ceil(wait));
  }

  readonly #wake = (): void => {
    this.#timer = undefined;
    this.runGuarded(() => this.tick());
  };
}
