// Owns the queue of assistant audio (μ-law 8 kHz) waiting to go to Twilio and
// the pacing decision: release 20 ms frames only while the audio already
// sent runs less than `maxLeadMs` ahead of real-time playback. A small lead
// means a `clear` on barge-in silences the caller's line at once and memory
// stays flat. Pure: the caller supplies the clock and does the sending.

export const FRAME_BYTES = 160;
const BYTES_PER_MS = 8;
const FRAME_MS = FRAME_BYTES / BYTES_PER_MS;

export interface OutboundFrame {
  readonly itemId: string;
  /** A view valid until the next call to `next`. */
  readonly bytes: Uint8Array;
  readonly ms: number;
}

interface Chunk {
  readonly itemId: string;
  readonly bytes: Uint8Array;
  offset: number;
}

export class OutboundPacer {
  #queue: Chunk[] = [];
  #queuedBytes = 0;
  #endedItem: string | undefined;
  /** Wall-clock ms at which everything sent so far will have played. */
  #playedUntil = 0;
  // One frame is assembled here when it spans two chunks, so steady state allocates nothing.
  readonly #scratch = new Uint8Array(FRAME_BYTES);

  constructor(private readonly maxLeadMs: number) {}

  get queuedMs(): number {
    return this.#queuedBytes / BYTES_PER_MS;
  }

  /** The items with audio queued here, in the order they would go out. */
  get queuedItemIds(): string[] {
    const ids: string[] = [];
    for (const chunk of this.#queue) if (ids.at(-1) !== chunk.itemId) ids.push(chunk.itemId);
    return ids;
  }

  /** Milliseconds of sent audio not yet played, by the pacer's clock. */
  leadMs(now: number): number {
    return Math.max(0, this.#playedUntil - now);
  }

  /** Takes ownership of `bytes`. */
  enqueue(itemId: string, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#queue.push({ itemId, bytes, offset: 0 });
    this.#queuedBytes += bytes.length;
  }

  /** No more audio will come for `itemId`: its last partial frame may go out. */
  endItem(itemId: string): void {
    this.#endedItem = itemId;
  }

  /** Next frame to send now, or undefined if the lead is full or nothing is ready. */
  next(now: number): OutboundFrame | undefined {
    if (this.#playedUntil < now) this.#playedUntil = now;
    // A frame goes out only if the lead stays within the bound once it is queued at Twilio.
    if (this.#playedUntil - now + FRAME_MS > this.maxLeadMs) return undefined;
    const head = this.#queue[0];
    if (head === undefined) return undefined;
    const itemId = head.itemId;
    // A frame never mixes two items, so item boundaries stay exact for truncation.
    let available = 0;
    for (const chunk of this.#queue) {
      if (chunk.itemId !== itemId) break;
      available += chunk.bytes.length - chunk.offset;
      if (available >= FRAME_BYTES) break;
    }
    // Items are queued one after another, so a later item exists iff the tail differs.
    const itemFinished = this.#endedItem === itemId || this.#queue[this.#queue.length - 1]!.itemId !== itemId;
    if (available < FRAME_BYTES && !itemFinished) return undefined;
    const size = Math.min(FRAME_BYTES, available);
    let bytes: Uint8Array;
    if (head.bytes.length - head.offset >= size) {
      bytes = head.bytes.subarray(head.offset, head.offset + size);
      head.offset += size;
    } else {
      let filled = 0;
      while (filled < size) {
        const chunk = this.#queue[0]!;
        const take = Math.min(size - filled, chunk.bytes.length - chunk.offset);
        this.#scratch.set(chunk.bytes.subarray(chunk.offset, chunk.offset + take), filled);
        chunk.offset += take;
        filled += take;
        if (chunk.offset === chunk.bytes.length) this.#queue.shift();
      }
      bytes = this.#scratch.subarray(0, size);
    }
    if (head.offset === head.bytes.length && this.#queue[0] === head) this.#queue.shift();
    this.#queuedBytes -= size;
    const ms = size / BYTES_PER_MS;
    this.#playedUntil += ms;
    return { itemId, bytes, ms };
  }

  /** Drops about `ms` of the oldest queued audio (whole chunks); returns the ms dropped. */
  dropOldest(ms: number): number {
    let dropped = 0;
    while (dropped < ms && this.#queue.length > 1) {
      const chunk = this.#queue.shift()!;
      const bytes = chunk.bytes.length - chunk.offset;
      this.#queuedBytes -= bytes;
      dropped += bytes / BYTES_PER_MS;
    }
    return dropped;
  }

  /** Drops everything queued (barge-in); playback on Twilio's side is cleared too. */
  clear(now: number): void {
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#playedUntil = now;
  }
}
