// Owns one call's answer clock: is the AI replying to the caller? The
// upstream keepalive proves the AI server's socket alive, not that its
// session works: a server can answer pings, run its VAD and commit turns, and
// still never reply. A reply is owed once the caller's turn ends (or the
// bridge asked for one); it must start, and keep coming, within the timeout.
// Time the caller spends speaking again does not count, since no server
// answers then, but it does not pay the debt either: a caller saying "hello?"
// into a stuck session must not keep it alive. Pure: the session supplies the
// clock and acts on `overdue`.

type State = 'idle' | 'owed' | 'paused' | 'replying';

export class ReplyWatch {
  #state: State = 'idle';
  /** When the current wait began (owed), or the last sign of the reply (replying). */
  #since = 0;
  /** Time an owed reply had already waited before the caller spoke again. */
  #waitedMs = 0;
  #misses = 0;

  constructor(readonly timeoutMs: number) {}

  /** A reply is owed and has not begun (it may be waiting for the caller to finish). */
  get owed(): boolean {
    return this.#state === 'owed' || this.#state === 'paused';
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

  /** The AI produced something for the caller: a response began, or its audio, text or tool call arrived. */
  progress(now: number): void {
    this.#state = 'replying';
    this.#since = now;
    this.#waitedMs = 0;
    this.#misses = 0;
  }

  /** The running response finished. A reply owed since it began is still owed. */
  answered(): void {
    if (this.#state === 'replying') this.#state = 'idle';
  }

  /**
   * A new session took over. An owed reply is owed by it, from now; a reply in progress died with the old
   * session and is not asked for again (the caller heard it cut off, as after any drop).
   */
  sessionChanged(now: number): void {
    if (this.#state === 'replying') this.#state = 'idle';
    // The new session has not heard the caller speak yet; if they still are, its VAD says so.
    if (this.#state === 'paused') this.#state = 'owed';
    this.#since = now;
    this.#waitedMs = 0;
  }

  /** True once the owed reply has waited, or the running one has been silent, longer than the timeout. */
  overdue(now: number): boolean {
    if (this.#state === 'owed') return this.#waitedMs + (now - this.#since) > this.timeoutMs;
    if (this.#state === 'replying') return now - this.#since > this.timeoutMs;
    return false;
  }

  /** Records that the session was given up for not replying; returns how many in a row, since the last reply. */
  missed(): number {
    return ++this.#misses;
  }
}
