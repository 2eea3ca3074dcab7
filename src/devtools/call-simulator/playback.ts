// Owns Twilio's playback model for one call, as a pure object on an injected
// clock (milliseconds since stream start, passed into every method): audio the
// bridge sends is queued and played at 8000 samples/s; a mark is due once all
// audio queued before it has played; `clear` drops what has not played and
// makes every pending mark due at once. Optionally records what the caller
// heard as an 8 kHz PCM16 timeline. No sockets, no timers.

import alawmulaw from 'alawmulaw';

export const PLAYBACK_RATE = 8000;
const SAMPLES_PER_MS = PLAYBACK_RATE / 1000;

// 256-entry μ-law → PCM16 table built once, so decoding a chunk is a lookup
// per byte with no intermediate arrays.
const MULAW_TO_PCM = new Int16Array(256);
for (let i = 0; i < 256; i++) MULAW_TO_PCM[i] = alawmulaw.mulaw.decodeSample(i);

export interface PlaybackSpan {
  /** Milliseconds since stream start when this stretch of audio began playing. */
  readonly startMs: number;
  /** When it stopped (ran out, or was cut by a clear); may lie in the future while audio is queued. */
  endMs: number;
}

export interface MarkRecord {
  readonly name: string;
  readonly receivedAtMs: number;
  /** When all audio queued before the mark will have played (as scheduled on receipt). */
  readonly dueAtMs: number;
  ackedAtMs?: number;
  /** True when the mark came back because of a clear rather than by playing out. */
  viaClear?: boolean;
}

export interface ClearRecord {
  readonly atMs: number;
  /** Queued audio that was thrown away, in milliseconds. */
  readonly discardedMs: number;
  readonly marksFlushed: number;
}

export interface PlaybackOptions {
  /** Keep the heard timeline (costs 2 bytes per 8 kHz sample of call). Default true. */
  readonly record?: boolean;
}

interface PendingMark {
  readonly record: MarkRecord;
  /** Sample position at which the mark is due. */
  readonly dueSample: number;
}

const toSample = (ms: number): number => Math.floor(ms * SAMPLES_PER_MS);
const toMs = (samples: number): number => samples / SAMPLES_PER_MS;

export class TwilioPlayback {
  /** Sample position (since stream start) where queued audio runs out. */
  private queueEnd = 0;
  private readonly pending: PendingMark[] = [];
  private heardBuf: Int16Array;
  private readonly record: boolean;

  readonly spans: PlaybackSpan[] = [];
  readonly marks: MarkRecord[] = [];
  readonly clears: ClearRecord[] = [];
  receivedSamples = 0;
  discardedSamples = 0;
  maxLeadSamples = 0;

  constructor(opts: PlaybackOptions = {}) {
    this.record = opts.record ?? true;
    this.heardBuf = new Int16Array(this.record ? PLAYBACK_RATE * 10 : 0);
  }

  /** Whether the caller is hearing bridge audio at `nowMs`. */
  isPlaying(nowMs: number): boolean {
    return this.queueEnd > toSample(nowMs);
  }

  /** Audio queued but not yet played at `nowMs`, in milliseconds. */
  queuedMs(nowMs: number): number {
    return toMs(Math.max(0, this.queueEnd - toSample(nowMs)));
  }

  /** When the last stretch of audio stopped or will stop playing; -Infinity if none yet. */
  get lastAudioEndMs(): number {
    const last = this.spans[this.spans.length - 1];
    return last === undefined ? -Infinity : last.endMs;
  }

  /** Audio the caller has heard within [fromMs, nowMs), in milliseconds. */
  heardMsSince(fromMs: number, nowMs: number): number {
    let total = 0;
    for (let i = this.spans.length - 1; i >= 0; i--) {
      const s = this.spans[i]!;
      if (s.endMs <= fromMs) break;
      total += Math.max(0, Math.min(s.endMs, nowMs) - Math.max(s.startMs, fromMs));
    }
    return total;
  }

  /** Queues μ-law audio received at `nowMs`. */
  enqueue(nowMs: number, mulaw: Uint8Array): void {
    if (mulaw.length === 0) return;
    const now = toSample(nowMs);
    const start = Math.max(now, this.queueEnd);
    const end = start + mulaw.length;
    const last = this.spans[this.spans.length - 1];
    if (last !== undefined && this.queueEnd >= now && toSample(last.endMs) === start) last.endMs = toMs(end);
    else this.spans.push({ startMs: toMs(start), endMs: toMs(end) });
    if (this.record) this.writeHeard(start, mulaw);
    this.queueEnd = end;
    this.receivedSamples += mulaw.length;
    if (end - now > this.maxLeadSamples) this.maxLeadSamples = end - now;
  }

  /**
   * Registers a mark received at `nowMs`. Returns the names of marks due now
   * (earlier ones first; this one too when nothing is queued ahead of it);
   * otherwise it comes out of a later `advance`.
   */
  mark(nowMs: number, name: string): string[] {
    const now = toSample(nowMs);
    const dueSample = Math.max(now, this.queueEnd);
    const record: MarkRecord = { name, receivedAtMs: nowMs, dueAtMs: toMs(dueSample) };
    this.marks.push(record);
    this.pending.push({ record, dueSample });
    return this.advance(nowMs);
  }

  /** Moves the clock to `nowMs`; returns the names of marks that became due, in order. */
  advance(nowMs: number): string[] {
    if (this.pending.length === 0) return [];
    const now = toSample(nowMs);
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.dueSample <= now) n++;
    if (n === 0) return [];
    const due = this.pending.splice(0, n);
    const names: string[] = [];
    for (const p of due) {
      p.record.ackedAtMs = nowMs;
      names.push(p.record.name);
    }
    return names;
  }

  /** Drops unplayed audio at `nowMs`; returns every pending mark's name, all due now. */
  clear(nowMs: number): string[] {
    // Marks that played out before the clear are acknowledged as played, not flushed.
    const played = this.advance(nowMs);
    const now = toSample(nowMs);
    const discarded = Math.max(0, this.queueEnd - now);
    if (discarded > 0) {
      if (this.record) this.heardBuf.fill(0, now, Math.min(this.queueEnd, this.heardBuf.length));
      const last = this.spans[this.spans.length - 1];
      if (last !== undefined) {
        last.endMs = toMs(now);
        // Audio cleared in the instant it arrived was never heard: drop the empty span.
        if (last.endMs <= last.startMs) this.spans.pop();
      }
      this.queueEnd = now;
      this.discardedSamples += discarded;
    }
    const flushed = this.pending.splice(0);
    for (const p of flushed) {
      p.record.ackedAtMs = nowMs;
      p.record.viaClear = true;
      played.push(p.record.name);
    }
    this.clears.push({ atMs: nowMs, discardedMs: toMs(discarded), marksFlushed: flushed.length });
    return played;
  }

  /** Marks received and not yet due. */
  get pendingMarks(): number {
    return this.pending.length;
  }

  /**
   * What the caller heard from stream start until `endMs`: 8 kHz PCM16,
   * silence where nothing played. Audio still queued after `endMs` is not
   * included (the caller never heard it). Empty when recording is off.
   */
  heard(endMs: number): Int16Array {
    if (!this.record) return new Int16Array(0);
    const end = toSample(endMs);
    const out = new Int16Array(end);
    out.set(this.heardBuf.subarray(0, Math.min(end, this.heardBuf.length)));
    return out;
  }

  private writeHeard(start: number, mulaw: Uint8Array): void {
    const end = start + mulaw.length;
    if (end > this.heardBuf.length) {
      // Doubling keeps appends amortised O(1) over a long call.
      const grown = new Int16Array(Math.max(end, this.heardBuf.length * 2));
      grown.set(this.heardBuf);
      this.heardBuf = grown;
    }
    const buf = this.heardBuf;
    for (let i = 0; i < mulaw.length; i++) buf[start + i] = MULAW_TO_PCM[mulaw[i]!]!;
  }
}
