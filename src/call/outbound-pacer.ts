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

import { copyIntoRing, copyOutOfRing } from './ring-copy.js';

export const FRAME_BYTES = 160;
const BYTES_PER_MS = 8;
export const FRAME_MS = FRAME_BYTES / BYTES_PER_MS;
/** The most audio one message carries: one mark's worth (see MARK_EVERY_MS in assistant-audio). */
const MAX_CHUNK_FRAMES = 3;

export interface OutboundChunk {
  readonly itemId: string;
  /** A view valid until the next call to `next`, `enqueue` or `clear`. */
  readonly bytes: Uint8Array;
  readonly ms: number;
}

/** Where one item's queued audio ends, as a count of bytes ever queued. */
interface Span {
  readonly itemId: string;
  end: number;
}

/** Room for half a second to start with: replies streamed in real time never need more. */
const INITIAL_RING_BYTES = 4096;
/** A ring grown past 4 s of audio (Twilio stalled, a long reply held) goes back to the initial size once empty. */
const KEEP_RING_BYTES = 32_768;

export class OutboundPacer {
  // Held audio lives in one ring per call, copied in as it arrives: a reply streamed ahead of real time is seconds
  // of audio, and a Buffer per delta kept that long was promoted by the GC and held Node's shared 8 KB slabs.
  #ring = new Uint8Array(INITIAL_RING_BYTES);
  /** Bytes ever queued and ever taken out: positions in the ring are these modulo its length. */
  #head = 0;
  #tail = 0;
  #spans: Span[] = [];
  #endedItem: string | undefined;
  /** Wall-clock ms at which everything sent so far will have played. */
  #playedUntil = 0;
  readonly #chunkBytes: number;
  /** Audio goes out only once the lead is down to this: then a whole chunk fits under the bound. */
  readonly #refillAtMs: number;
  // A message is assembled here when it wraps round the ring's end.
  readonly #scratch: Uint8Array;

  constructor(private readonly maxLeadMs: number) {
    // Half the lead at most, so the line always holds at least half of it: at the 40 ms minimum that is one frame.
    const frames = Math.max(1, Math.min(MAX_CHUNK_FRAMES, Math.floor(maxLeadMs / 2 / FRAME_MS)));
    this.#chunkBytes = frames * FRAME_BYTES;
    this.#refillAtMs = maxLeadMs - frames * FRAME_MS;
    this.#scratch = new Uint8Array(this.#chunkBytes);
  }

  get queuedMs(): number {
    return (this.#tail - this.#head) / BYTES_PER_MS;
  }

  /** The items with audio queued here, in the order they would go out. */
  get queuedItemIds(): string[] {
    return this.#spans.map((span) => span.itemId);
  }

  /** Milliseconds of sent audio not yet played, by the pacer's clock. */
  leadMs(now: number): number {
    return Math.max(0, this.#playedUntil - now);
  }

  /** Copies `bytes` in: the caller may reuse them at once. */
  enqueue(itemId: string, bytes: Uint8Array): void {
    const length = bytes.length;
    if (length === 0) return;
    const queued = this.#tail - this.#head;
    if (queued + length > this.#ring.length) this.#resize(queued + length);
    copyIntoRing(this.#ring, this.#tail, bytes);
    this.#tail += length;
    const last = this.#spans[this.#spans.length - 1];
    if (last !== undefined && last.itemId === itemId) last.end = this.#tail;
    else this.#spans.push({ itemId, end: this.#tail });
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
    const itemId = this.#spans[0]!.itemId;
    const at = this.#head % this.#ring.length;
    let bytes: Uint8Array;
    if (at + size <= this.#ring.length) {
      bytes = this.#ring.subarray(at, at + size);
    } else {
      copyOutOfRing(this.#ring, this.#head, size, this.#scratch);
      bytes = this.#scratch.subarray(0, size);
    }
    this.#advanceHead(size);
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
    const head = this.#spans[0];
    if (head === undefined) return 0;
    // A message never mixes two items, so item boundaries stay exact for truncation.
    const available = head.end - this.#head;
    if (available >= this.#chunkBytes) return this.#chunkBytes;
    // Items are queued one after another, so a later item exists iff there is a second span.
    const itemFinished = this.#endedItem === head.itemId || this.#spans.length > 1;
    // Whole frames only, until the item's last audio: its partial frame goes with it.
    return itemFinished ? available : available - (available % FRAME_BYTES);
  }

  /** Drops about `ms` of the oldest queued audio (whole frames, never the newest frame); returns the ms dropped. */
  dropOldest(ms: number): number {
    const queued = this.#tail - this.#head;
    const bytes = Math.min(Math.ceil((ms * BYTES_PER_MS) / FRAME_BYTES) * FRAME_BYTES, Math.max(0, queued - FRAME_BYTES));
    if (bytes <= 0) return 0;
    this.#advanceHead(bytes);
    return bytes / BYTES_PER_MS;
  }

  /** Drops everything queued (barge-in); playback on Twilio's side is cleared too. */
  clear(now: number): void {
    this.#head = this.#tail;
    this.#spans = [];
    this.#playedUntil = now;
    this.#shrinkIfEmpty();
  }

  #advanceHead(bytes: number): void {
    this.#head += bytes;
    while (this.#spans.length > 0 && this.#spans[0]!.end <= this.#head) this.#spans.shift();
    this.#shrinkIfEmpty();
  }

  #shrinkIfEmpty(): void {
    if (this.#head !== this.#tail) return;
    // Positions restart at 0, so they stay small integers however long the call runs.
    this.#head = this.#tail = 0;
    if (this.#ring.length > KEEP_RING_BYTES) this.#ring = new Uint8Array(INITIAL_RING_BYTES);
  }

  /** Grows the ring to hold at least `bytes`, keeping the queued audio in order from position 0. */
  #resize(bytes: number): void {
    let capacity = this.#ring.length;
    while (capacity < bytes) capacity *= 2;
    const ring = new Uint8Array(capacity);
    const queued = this.#tail - this.#head;
    copyOutOfRing(this.#ring, this.#head, queued, ring);
    this.#ring = ring;
    // Span ends are absolute counts; rebase them with the positions.
    for (const span of this.#spans) span.end -= this.#head;
    this.#tail = queued;
    this.#head = 0;
  }
}
