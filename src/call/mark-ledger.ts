// Owns barge-in bookkeeping: which assistant audio was sent to Twilio, which
// marks are outstanding, and how much of each assistant item the caller has
// actually heard, as told by acknowledged marks (bytes sent are not audio
// played). Items are tracked until all their audio has played, so a barge-in
// just after one answer hands over to the next truncates both where the
// caller stopped hearing them. A generation counter makes marks that Twilio
// echoes after a `clear` harmless. Pure: no sockets, no timers.

interface PendingMark {
  readonly name: string;
  /** When the mark was placed; a mark far overdue is taken as played (its echo was lost). */
  readonly placedAt: number;
  readonly itemId: string;
  /** Item-relative milliseconds of audio that will have played when this mark returns. */
  readonly endMs: number;
}

interface ItemAudio {
  readonly itemId: string;
  /** Item-relative milliseconds sent to Twilio. */
  sentMs: number;
  /** Item-relative milliseconds acknowledged as played. */
  heardMs: number;
  /** Item-relative milliseconds covered by the last mark placed (or by a clear): audio sent beyond it has no mark yet. */
  markedMs: number;
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
  /** Items with audio sent since the last clear, oldest first; the last is the current one. */
  #items: ItemAudio[] = [];

  /** Name prefix of the current generation; marks of older generations are ignored. */
  get generation(): number {
    return this.#generation;
  }

  get currentItemId(): string | undefined {
    return this.#items.at(-1)?.itemId;
  }

  /**
   * True while audio sent to Twilio has not all been acknowledged as played:
   * marks are outstanding, or audio went out after the last mark (marks come
   * every few frames, so the newest frames often have none yet).
   */
  get hasUnplayedAudio(): boolean {
    if (this.#pending.length > 0) return true;
    for (const item of this.#items) if (item.sentMs > item.markedMs) return true;
    return false;
  }

  /** Milliseconds of the current item sent after its last mark (or the last clear). */
  get unmarkedMs(): number {
    const item = this.#items.at(-1);
    return item === undefined ? 0 : item.sentMs - item.markedMs;
  }

  /**
   * Records `ms` of audio of `itemId` sent to Twilio. Place a mark for the
   * current item's unmarked audio before the first audio of the next one, or
   * the caller's hearing of that tail is known only when the next item's
   * first mark returns.
   */
  recordSent(itemId: string, ms: number): void {
    let item = this.#items.at(-1);
    if (item?.itemId !== itemId) {
      item = { itemId, sentMs: 0, heardMs: 0, markedMs: 0 };
      this.#items.push(item);
      this.#forgetPlayed();
    }
    item.sentMs += ms;
  }

  /**
   * Registers a mark covering everything sent so far and returns its name,
   * to be sent to Twilio right after that audio. Undefined if nothing new was
   * sent since the last mark.
   */
  placeMark(now = 0): string | undefined {
    const item = this.#items.at(-1);
    if (item === undefined || item.sentMs === item.markedMs) return undefined;
    const name = `g${this.#generation}.${++this.#sequence}`;
    this.#pending.push({ name, itemId: item.itemId, endMs: item.sentMs, placedAt: now });
    item.markedMs = item.sentMs;
    return name;
  }

  /**
   * Handles a mark Twilio echoed back. Returns false for a mark that is not
   * ours or belongs to a generation ended by `clear`.
   */
  acknowledge(name: string): boolean {
    const index = this.#pending.findIndex((m) => m.name === name);
    if (index < 0) return false;
    // Marks return in order; anything before this one has played too.
    for (const mark of this.#pending.splice(0, index + 1)) {
      const item = this.#item(mark.itemId);
      if (item !== undefined) item.heardMs = Math.max(item.heardMs, mark.endMs);
    }
    this.#forgetPlayed();
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
    return this.#item(itemId)?.heardMs ?? 0;
  }

  sentMs(itemId: string): number {
    return this.#item(itemId)?.sentMs ?? 0;
  }

  /**
   * The caller barged in and Twilio's buffer is being cleared. Returns what
   * each item still playing had played, oldest first (none if nothing was
   * playing), and starts a new generation so marks echoed by the clear are
   * ignored.
   */
  clear(): Interruption[] {
    // An item still waiting to play has heard < sent: its pending marks lie beyond what was heard.
    const cut = this.#items.filter((item) => this.#waitingToPlay(item)).map(({ itemId, heardMs, sentMs }) => ({ itemId, heardMs, sentMs }));
    this.#generation++;
    this.#pending = [];
    // Twilio drops everything it had not played: nothing sent so far is waiting to play any more.
    for (const item of this.#items) item.markedMs = item.sentMs;
    this.#items = this.#items.slice(-1);
    return cut;
  }

  #item(itemId: string): ItemAudio | undefined {
    for (let i = this.#items.length - 1; i >= 0; i--) if (this.#items[i]!.itemId === itemId) return this.#items[i];
    return undefined;
  }

  /** Items before the current one drop out once nothing of theirs is waiting to play. */
  #forgetPlayed(): void {
    while (this.#items.length > 1 && !this.#waitingToPlay(this.#items[0]!)) this.#items.shift();
  }

  /** Audio of `item` sent after its last mark, or under a mark not yet echoed. */
  #waitingToPlay(item: ItemAudio): boolean {
    return item.sentMs > item.markedMs || this.#pending.some((m) => m.itemId === item.itemId);
  }
}
