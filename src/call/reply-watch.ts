// Owns one call's answer clock: is the AI replying to the caller? The
// upstream keepalive proves the AI server's socket alive, not that its
// session works: a server can answer pings, run its VAD and commit turns, and
// still never reply. A reply is owed once the caller's turn ends (or the
// bridge asked for one); it must start, and keep coming, within the timeout.
// Time the caller spends speaking again does not count, since no server
// answers then, but it does not pay the debt either: a caller saying "hello?"
// into a stuck session must not keep it alive. A reply pays the debt only
// once it reaches the caller (audio) or acts (a tool call): a response that is
// created and then says nothing, or fails, is still owed. Pure: the session
// supplies the clock and acts on `overdue`.

type State = 'idle' | 'owed' | 'paused' | 'replying';

export class ReplyWatch {
  #state: State = 'idle';
  /** When the current wait began (owed), or the last sign of the reply (replying). */
  #since = 0;
  /** Time an owed reply had already waited before the caller spoke again. */
  #waitedMs = 0;
  /** The reply in progress has reached the caller or acted. */
  #delivered = false;
  /** All the audio of the reply in progress has arrived (the server said so), whether or not it is done. */
  #spoken = false;
  #misses = 0;

  /** `timeoutMs` 0 turns the watch off: nothing is ever overdue. */
  constructor(readonly timeoutMs: number) {}

  /** The caller is owed a reply that has not reached them (it may be waiting for the caller to finish). */
  get owed(): boolean {
    return this.#state === 'owed' || this.#state === 'paused' || (this.#state === 'replying' && !this.#delivered);
  }

  /**
   * The reply in progress has reached the caller but not all of its audio has arrived: if its session is lost
   * now, the caller is left mid-sentence, waiting for the rest.
   */
  get cutShort(): boolean {
    return this.#state === 'replying' && this.#delivered && !this.#spoken;
  }

  /** The caller's turn ended, or the bridge asked for a response. */
  owe(now: number): void {
    if (this.#state === 'owed') return;
    if (this.#state !== 'paused') this.#waitedMs = 0;
    this.#state = 'owed';
    this.#since = now;
  }

  /** The caller speaks: an owed reply's clock stops; a reply in progress is being talked over (barge-in). */
  callerSpeaking(now: number): void {
    if (this.#state === 'owed') {
      this.#waitedMs += now - this.#since;
      this.#state = 'paused';
    } else if (this.#state === 'replying') {
      this.#state = 'idle';
    }
  }

  /** A response was created: the reply has begun, but has given the caller nothing yet. */
  began(now: number): void {
    this.#state = 'replying';
    this.#since = now;
    this.#delivered = false;
    this.#spoken = false;
  }

  /**
   * A sign of the reply: `delivered` for audio sent towards the caller or a tool call, false for text alone.
   * Only a delivered reply ends a run of misses.
   */
  progress(now: number, delivered: boolean): void {
    if (this.#state !== 'replying') this.began(now);
    this.#since = now;
    if (delivered) {
      this.#delivered = true;
      // More of the reply (another audio item, a tool call) after its audio was complete: not finished yet.
      this.#spoken = false;
      this.#misses = 0;
    }
  }

  /** The server has sent all the audio of the reply in progress (its response may still be running). */
  spoken(): void {
    if (this.#state === 'replying') this.#spoken = true;
  }

  /**
   * The running response finished. One that completed is an answer even if silent (the model chose to say
   * nothing); one that failed or was cut before reaching the caller leaves the reply owed, from now. With the
   * watch off nothing would ever collect that debt, and an owed reply holds back rollover and an agent's
   * hang-up: the turn is settled instead.
   */
  answered(completed: boolean, now: number): void {
    if (this.#state !== 'replying') return;
    if (completed || this.#delivered || this.timeoutMs === 0) {
      this.#state = 'idle';
      return;
    }
    this.#state = 'owed';
    this.#since = now;
    this.#waitedMs = 0;
  }

  /**
   * A new session took over. If the bridge asked it for the owed reply (or gave it the unanswered turn, or
   * asked it to finish a reply cut short), that reply is owed by it from now; otherwise nothing is.
   */
  sessionChanged(now: number, asked: boolean): void {
    this.#state = asked ? 'owed' : 'idle';
    this.#since = now;
    this.#waitedMs = 0;
    this.#delivered = false;
    this.#spoken = false;
  }

  /** True once the owed reply has waited, or the running one has been silent, longer than the timeout. */
  overdue(now: number): boolean {
    if (this.timeoutMs === 0) return false;
    if (this.#state === 'owed') return this.#waitedMs + (now - this.#since) > this.timeoutMs;
    if (this.#state === 'replying') return now - this.#since > this.timeoutMs;
    return false;
  }

  /** Records that the session was given up for not replying; returns how many in a row since a delivered reply. */
  missed(): number {
    return ++this.#misses;
  }
}
