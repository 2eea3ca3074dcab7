// Owns the clock of a call's outages of the AI: when comfort audio starts,
// when the outage budget runs out, and how much outage the call had. A
// session that comes back is on probation: the budget pauses, and only once
// the session has stayed up does the outage end; a session that falls again
// in the meantime resumes the same budget, so flapping cannot postpone the
// fallback forever. It plays nothing and hands off nothing itself: it calls
// back. Timers only; no I/O.

export interface OutageGuardOptions {
  readonly comfortAfterMs: number;
  readonly budgetMs: number;
  /** How long a restored session must stay up before the outage is over. */
  readonly probationMs: number;
  readonly now: () => number;
  /** Called every 20 ms while comfort audio is due (undefined: comfort audio is off). */
  readonly comfortTick?: () => void;
  readonly onBudgetSpent: () => void;
}

export class OutageGuard {
  #since: number | undefined;
  /** The first connect of a call is not an outage worth counting. */
  #initial = false;
  #segmentStart = 0;
  #budgetUsedMs = 0;
  #recoveredAt: number | undefined;
  #totalMs = 0;
  #comfortTimer: NodeJS.Timeout | undefined;
  #budgetTimer: NodeJS.Timeout | undefined;
  #probationTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: OutageGuardOptions) {}

  /** True from the AI going away until a restored session has passed probation. */
  get active(): boolean {
    return this.#since !== undefined;
  }

  /** True while counting a real outage (not the call's first connect). */
  get counted(): boolean {
    return this.#since !== undefined && !this.#initial;
  }

  /** Milliseconds since this outage began. */
  get elapsedMs(): number {
    return this.#since === undefined ? 0 : this.options.now() - this.#since;
  }

  /** The AI is away (or not reached yet, when `initial`). */
  down(initial = false): void {
    const now = this.options.now();
    clearTimeout(this.#probationTimer);
    this.#recoveredAt = undefined;
    const { comfortTick, comfortAfterMs, budgetMs } = this.options;
    if (comfortTick !== undefined && this.#comfortTimer === undefined) {
      this.#comfortTimer = setTimeout(() => (this.#comfortTimer = setInterval(comfortTick, 20)), comfortAfterMs);
    }
    if (this.#since === undefined) {
      this.#since = now;
      this.#initial = initial;
      this.#budgetUsedMs = 0;
    } else if (!initial) {
      // A drop right after the first connect is a real outage from here on.
      this.#initial = false;
    }
    this.#segmentStart = now;
    clearTimeout(this.#budgetTimer);
    this.#budgetTimer = setTimeout(this.options.onBudgetSpent, Math.max(0, budgetMs - this.#budgetUsedMs));
  }

  /** A session is up again: comfort audio stops, the budget pauses, probation starts. */
  up(): void {
    if (this.#since === undefined) return;
    const now = this.options.now();
    this.#stopComfort();
    clearTimeout(this.#budgetTimer);
    this.#budgetTimer = undefined;
    this.#budgetUsedMs += now - this.#segmentStart;
    this.#recoveredAt = now;
    clearTimeout(this.#probationTimer);
    this.#probationTimer = setTimeout(() => this.#over(), this.options.probationMs);
  }

  /** Total counted outage, including one still running (for the call summary). */
  totalMs(): number {
    const running = this.counted ? (this.#recoveredAt ?? this.options.now()) - this.#since! : 0;
    return this.#totalMs + running;
  }

  /**
   * The call is being handed to the fallback: the budget and probation no longer matter, but the redirect takes
   * a REST round trip (seconds, if Twilio's API is slow), so comfort audio plays, or starts, until the call ends.
   */
  handingOff(): void {
    clearTimeout(this.#budgetTimer);
    clearTimeout(this.#probationTimer);
    this.#budgetTimer = undefined;
    const { comfortTick } = this.options;
    if (comfortTick !== undefined && this.#comfortTimer === undefined) this.#comfortTimer = setInterval(comfortTick, 20);
  }

  stop(): void {
    this.#stopComfort();
    clearTimeout(this.#budgetTimer);
    clearTimeout(this.#probationTimer);
    this.#budgetTimer = undefined;
  }

  #over(): void {
    if (this.counted) this.#totalMs += (this.#recoveredAt ?? this.options.now()) - this.#since!;
    this.#since = undefined;
    this.#recoveredAt = undefined;
    this.#budgetUsedMs = 0;
  }

  #stopComfort(): void {
    clearTimeout(this.#comfortTimer);
    clearInterval(this.#comfortTimer);
    this.#comfortTimer = undefined;
  }
}
