// Owns the caller-side clock: from each media message's Twilio timestamp it
// decides how much silence to insert where the phone network dropped silent
// packets, so the AI's notion of time stays true, and spots stale frames.
// Pure.

const BYTES_PER_MS = 8;

export type TimelineVerdict =
  | { readonly kind: 'in_order'; readonly fillMs: number }
  | { readonly kind: 'stale' };

export class InboundTimeline {
  /** Twilio timestamp (ms) at which the next frame is expected: timestamps count from stream start. */
  #expectedMs = 0;

  constructor(
    /** Gaps shorter than this are jitter, not lost packets. */
    private readonly toleranceMs = 10,
    /** Longer gaps are filled only up to this much, to bound the burst sent upstream. */
    private readonly maxFillMs = 10_000,
  ) {}

  accept(timestampMs: number, payloadBytes: number): TimelineVerdict {
    const durationMs = payloadBytes / BYTES_PER_MS;
    const expected = this.#expectedMs;
    if (timestampMs + this.toleranceMs < expected) return { kind: 'stale' };
    const gap = timestampMs - expected;
    this.#expectedMs = timestampMs + durationMs;
    if (gap < this.toleranceMs) return { kind: 'in_order', fillMs: 0 };
    return { kind: 'in_order', fillMs: Math.min(Math.round(gap), this.maxFillMs) };
  }
}
