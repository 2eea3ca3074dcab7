// Owns the queue of assistant audio (μ-law 8 kHz) waiting to go to Twilio and
// the pacing decision: audio goes out only while what was already sent runs
// at most `maxLeadMs` ahead of real-time playback. A small lead means a
// `clear` on barge-in silences the caller's line at once and memory stays
// flat. Pure: the caller supplies the clock and does the sending.
//
// Audio leaves in messages of whole 20 ms frames, up to a chunk of 60 ms
// (the mark cadence, so truncation stays as exact as it was), released once
// the lead has fallen by a chunk. The service streams replies faster than
// real time; topping the lead up a frame at a time cost a Twilio message and
// a timer every 20 ms, three times what a chunk costs. Audio that arrives at
// real time still goes out as soon as it comes.

export const FRAME_BYTES = 160;
const BYTES_PER_MS = 8;
export const FRAME_MS = FRAME_BYTES / BYTES_PER_MS;
/** The most audio one message carries: one mark's worth (see MARK_EVERY_MS in assistant-audio). */
const MAX_CHUNK_FRAMES = 3;

export interface OutboundChunk {
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
  readonly #chunkBytes: number;
  /** Audio goes out only once the lead is down to this: then a whole chunk fits under the bound. */
  readonly #refillAtMs: number;
  // A message is assembled here when it spans two deltas, so steady state allocates nothing.
  readonly #scratch: Uint8Array;

  constructor(private readonly maxLeadMs: number) {
    // Half the lead at most, so the line always holds at least half of it: at the 40 ms minimum that is one frame.
    const frames = Math.max(1, Math.min(MAX_CHUNK_FRAMES, Math.floor(maxLeadMs / 2 / FRAME_MS)));
    this.#chunkBytes = frames * FRAME_BYTES;
    this.#refillAtMs = maxLeadMs - frames * FRAME_MS;
    this.#scratch = new Uint8Array(this.#chunkBytes);
  }

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

  /** Next message to send now (whole frames of one item, up to a chunk), or undefined if the lead is full or nothing is ready. */
  next(now: number): OutboundChunk | undefined {
    if (this.#playedUntil < now) this.#playedUntil = now;
    if (this.#playedUntil - now > this.#refillAtMs) return undefined;
    const size = this.#readyBytes();
    if (size === 0) return undefined;
    const head = this.#queue[0]!;
    const itemId = head.itemId;
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

  /**
   * Milliseconds until `next` may release audio held back by the lead (0: it may now), or undefined when nothing
   * is ready to go (the queue is empty, or waits for more of an item, which arrives with the next delta).
   */
  heldForMs(now: number): number | undefined {
    if (this.#readyBytes() === 0) return undefined;
    return Math.max(0, this.#playedUntil - now - this.#refillAtMs);
  }

  /** Bytes the next message would carry: whole frames of the head item up to a chunk, or its last partial frame. */
  #readyBytes(): number {
    const head = this.#queue[0];
    if (head === undefined) return 0;
    const itemId = head.itemId;
    // A message never mixes two items, so item boundaries stay exact for truncation.
    let available = 0;
    for (const chunk of this.#queue) {
      if (chunk.itemId !== itemId) break;
      available += chunk.bytes.length - chunk.offset;
      if (available >= this.#chunkBytes) return this.#chunkBytes;
    }
    // Items are queued one after another, so a later item exists iff the tail differs.
    const itemFinished = this.#endedItem === itemId || this.#queue[this.#queue.length - 1]!.itemId !== itemId;
    // Whole frames only, until the item's last audio: its partial frame goes with it.
    return itemFinished ? available : available - (available % FRAME_BYTES);
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
