// Owns the cap on Twilio messages per stream: a token bucket well above a
// real call's ~50 media frames and a few marks per second, so only a broken
// or hostile peer ever meets it. Pure: the clock is passed in.

export class MessageRateLimit {
  #tokens: number;
  #last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Spends one token; false when the stream is over its rate. */
  take(now: number): boolean {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.perSecond) / 1000);
      this.#last = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
