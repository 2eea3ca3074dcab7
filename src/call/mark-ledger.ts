// Owns barge-in bookkeeping: which assistant audio was sent to Twilio, which
// marks are outstanding, and how much of each assistant item the caller has
// actually heard, as told by acknowledged marks (bytes sent are not audio
// played). A generation counter makes marks that Twilio echoes after a
// `clear` harmless. Pure: no sockets, no timers.

interface PendingMark {
  readonly name: string;
  /** When the mark was placed; a mark far overdue is taken as played (its echo was lost). */
  readonly placedAt: number;
  readonly itemId: string;
  /** Item-relative milliseconds of audio that will have played when this mark returns. */
  readonly endMs: number;
}

export interface Interruption {
  readonly itemId: string;
  /** Milliseconds of this item the caller heard. */
  readonly heardMs: number;
  /** Milliseconds of this item sent to Twilio. */
  readonly sentMs: number;
}

export class MarkLedger {
  #generation = 0;
  #sequence = 0;
  #pending: PendingMark[] = [];
  #itemId: string | undefined;
  #sentMs = 0;
  #heardMs = 0;
  /** Item-relative ms covered by the last mark placed (or by a clear): audio sent beyond it has no mark yet. */
  #markedMs = 0;

  /** Name prefix of the current generation; marks of older generations are ignored. */
  get generation(): number {
    return this.#generation;
  }

  get currentItemId(): string | undefined {
    return this.#itemId;
  }

  /**
   * True while audio sent to Twilio has not all been acknowledged as played:
   * marks are outstanding, or audio went out after the last mark (marks come
   * every few frames, so the newest frames often have none yet).
   */
  get hasUnplayedAudio(): boolean {
    return this.#pending.length > 0 || this.#sentMs > this.#markedMs;
  }

  /** Milliseconds of the current item sent after its last mark (or the last clear). */
  get unmarkedMs(): number {
    return this.#sentMs - this.#markedMs;
  }

  /** Records `ms` of audio of `itemId` sent to Twilio. */
  recordSent(itemId: string, ms: number): void {
    if (itemId !== this.#itemId) {
      this.#itemId = itemId;
      this.#sentMs = 0;
      this.#heardMs = 0;
      this.#markedMs = 0;
    }
    this.#sentMs += ms;
  }

  /**
   * Registers a mark covering everything sent so far and returns its name,
   * to be sent to Twilio right after that audio. Undefined if nothing new was
   * sent since the last mark.
   */
  placeMark(now = 0): string | undefined {
    const itemId = this.#itemId;
    if (itemId === undefined) return undefined;
    if (this.#sentMs === this.#markedMs) return undefined;
    const name = `g${this.#generation}.${++this.#sequence}`;
    this.#pending.push({ name, itemId, endMs: this.#sentMs, placedAt: now });
    this.#markedMs = this.#sentMs;
    return name;
  }

  /**
   * Handles a mark Twilio echoed back. Returns false for a mark that is not
   * ours or belongs to a generation ended by `clear`.
   */
  acknowledge(name: string): boolean {
    const index = this.#pending.findIndex((m) => m.name === name);
    if (index < 0) return false;
    const mark = this.#pending[index]!;
    // Marks return in order; anything before this one has played too.
    this.#pending.splice(0, index + 1);
    if (mark.itemId === this.#itemId) this.#heardMs = Math.max(this.#heardMs, mark.endMs);
    return true;
  }

  /**
   * Marks placed more than `overdueMs` ago whose echo never came are taken as
   * played, so a lost echo cannot leave the call "playing" forever.
   */
  expireOverdue(now: number, overdueMs: number): void {
    let last = -1;
    for (let i = 0; i < this.#pending.length && now - this.#pending[i]!.placedAt > overdueMs; i++) last = i;
    if (last >= 0) this.acknowledge(this.#pending[last]!.name);
  }

  heardMs(itemId: string): number {
    return itemId === this.#itemId ? this.#heardMs : 0;
  }

  sentMs(itemId: string): number {
    return itemId === this.#itemId ? this.#sentMs : 0;
  }

  /**
   * The caller barged in and Twilio's buffer is being cleared. Returns what
   * the interrupted item had played (undefined if nothing was playing), and
   * starts a new generation so marks echoed by the clear are ignored.
   */
  clear(): Interruption | undefined {
    const itemId = this.#itemId;
    const playing = this.hasUnplayedAudio;
    const result = itemId !== undefined && playing ? { itemId, heardMs: this.#heardMs, sentMs: this.#sentMs } : undefined;
    this.#generation++;
    this.#pending = [];
    // Twilio drops everything it had not played: nothing sent so far is waiting to play any more.
    this.#markedMs = this.#sentMs;
    return result;
  }
}
