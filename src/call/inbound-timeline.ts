// Owns the caller-side clock: from each media message's Twilio timestamp it
// decides how much silence to insert where the phone network dropped silent
// packets, so the AI's notion of time stays true, and spots stale frames.
// When nothing arrives at all (trailing silence dropped), the call asks it to
// fill up to the estimated stream time, so the AI can hear the turn end.
// Fills never run ahead of the wall clock. Pure: the clock is passed in.

const BYTES_PER_MS = 8;
/**
 * Filled silence never takes the delivered audio further ahead of the wall clock than this. Twilio's timestamps
 * follow the call's real time, so a gap beyond it is a broken or hostile stream: filling every such jump (up to
 * maxFillMs a frame, at the message-rate cap) once cost 218 ms of CPU and 2,500 s of audio per second of traffic.
 * A second covers frames that queued in the network and arrive in a burst.
 */
const AHEAD_OF_WALL_CLOCK_MS = 1000;

export type TimelineVerdict =
  | { readonly kind: 'in_order'; readonly fillMs: number }
  | { readonly kind: 'stale' };

export class InboundTimeline {
  /** Stream time (ms) up to which audio, real or filled, has been delivered: timestamps count from stream start. */
  #deliveredMs = 0;
  /** End of the last real frame: anything older is a duplicate or out of order. */
  #lastRealEndMs = 0;
  /** Wall-clock time at which the stream's timestamp 0 fell, by the first frame. */
  #wallAtZero: number | undefined;

  constructor(
    /** Gaps shorter than this are jitter, not lost packets. */
    private readonly toleranceMs = 10,
    /** Longer gaps are filled only up to this much, to bound the burst sent upstream. */
    private readonly maxFillMs = 10_000,
  ) {}

  get lastRealEndMs(): number {
    return this.#lastRealEndMs;
  }

  /** `wallMs` (any ms clock) is when the frame arrived: fills are bounded by the time that really passed. */
  accept(timestampMs: number, payloadBytes: number, wallMs: number): TimelineVerdict {
    const end = timestampMs + payloadBytes / BYTES_PER_MS;
    if (timestampMs + this.toleranceMs < this.#lastRealEndMs) return { kind: 'stale' };
    this.#lastRealEndMs = end;
    const delivered = this.#deliveredMs;
    const gap = timestampMs - delivered;
    // A frame inside time already filled with silence (it arrived late) is still the caller's voice: keep it.
    this.#deliveredMs = Math.max(delivered, end);
    const wallAtZero = (this.#wallAtZero ??= wallMs - timestampMs);
    if (gap < this.toleranceMs) return { kind: 'in_order', fillMs: 0 };
    const aheadAllowed = Math.round(wallMs - wallAtZero + AHEAD_OF_WALL_CLOCK_MS - delivered);
    return { kind: 'in_order', fillMs: Math.max(0, Math.min(Math.round(gap), this.maxFillMs, aheadAllowed)) };
  }

  /** Silence to insert so delivered time reaches `streamMs`; nothing if less than a frame is missing. */
  fillTo(streamMs: number): number {
    const missing = Math.floor(streamMs - this.#deliveredMs);
    if (missing < 20) return 0;
    const fill = Math.min(missing, this.maxFillMs);
    this.#deliveredMs += fill;
    return fill;
  }
}
