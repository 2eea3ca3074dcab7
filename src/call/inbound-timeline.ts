// Owns the caller-side clock: from each media message's Twilio timestamp it
// decides how much silence to insert where the phone network dropped silent
// packets, so the AI's notion of time stays true, and spots stale frames.
// When nothing arrives at all (trailing silence dropped), the call asks it to
// fill up to the estimated stream time, so the AI can hear the turn end.
// Pure.

const BYTES_PER_MS = 8;

export type TimelineVerdict =
  | { readonly kind: 'in_order'; readonly fillMs: number }
  | { readonly kind: 'stale' };

export class InboundTimeline {
  /** Stream time (ms) up to which audio, real or filled, has been delivered: timestamps count from stream start. */
  #deliveredMs = 0;
  /** End of the last real frame: anything older is a duplicate or out of order. */
  #lastRealEndMs = 0;

  constructor(
    /** Gaps shorter than this are jitter, not lost packets. */
    private readonly toleranceMs = 10,
    /** Longer gaps are filled only up to this much, to bound the burst sent upstream. */
    private readonly maxFillMs = 10_000,
  ) {}

  get lastRealEndMs(): number {
    return this.#lastRealEndMs;
  }

  accept(timestampMs: number, payloadBytes: number): TimelineVerdict {
    const end = timestampMs + payloadBytes / BYTES_PER_MS;
    if (timestampMs + this.toleranceMs < this.#lastRealEndMs) return { kind: 'stale' };
    this.#lastRealEndMs = end;
    const gap = timestampMs - this.#deliveredMs;
    // A frame inside time already filled with silence (it arrived late) is still the caller's voice: keep it.
    this.#deliveredMs = Math.max(this.#deliveredMs, end);
    if (gap < this.toleranceMs) return { kind: 'in_order', fillMs: 0 };
    return { kind: 'in_order', fillMs: Math.min(Math.round(gap), this.maxFillMs) };
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
