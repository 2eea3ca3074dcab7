// Owns a bounded ring of recent caller audio (μ-law 8 kHz bytes), addressed
// by absolute position (bytes ever written), so its user can remember where
// an utterance began and ended and read it back later without copying it
// out first. Keeps at most its capacity, newest bytes; one buffer per call,
// grown on demand, so retaining audio costs no per-frame or per-turn
// objects. Pure.

import { copyIntoRing, copyOutOfRing } from './ring-copy.js';

export class MulawRing {
  #buf: Uint8Array;
  /** Absolute position of the oldest byte kept, and one past the newest. */
  #start = 0;
  #end = 0;

  constructor(
    initialBytes: number,
    private readonly maxBytes: number,
  ) {
    this.#buf = new Uint8Array(Math.min(initialBytes, maxBytes));
  }

  get start(): number {
    return this.#start;
  }

  get end(): number {
    return this.#end;
  }

  get length(): number {
    return this.#end - this.#start;
  }

  get capacity(): number {
    return this.#buf.length;
  }

  /** Makes room for up to `bytes` (never beyond the maximum); keeps what is stored, at the same positions. */
  reserve(bytes: number): void {
    const want = Math.min(bytes, this.maxBytes);
    if (want <= this.#buf.length) return;
    const kept = this.read();
    this.#buf = new Uint8Array(want);
    copyIntoRing(this.#buf, this.#start, kept);
  }

  /** Appends, overwriting the oldest bytes when full. */
  write(bytes: Uint8Array): void {
    const cap = this.#buf.length;
    const data = bytes.length > cap ? bytes.subarray(bytes.length - cap) : bytes;
    copyIntoRing(this.#buf, this.#end + bytes.length - data.length, data);
    this.#end += bytes.length;
    if (this.#end - this.#start > cap) this.#start = this.#end - cap;
  }

  /** Forgets everything before `position`. */
  dropBefore(position: number): void {
    this.#start = Math.max(this.#start, Math.min(position, this.#end));
  }

  /** A copy of the bytes kept between `from` and `to` (by default all of them), oldest first. */
  read(from = this.#start, to = this.#end): Uint8Array {
    const lo = Math.max(from, this.#start);
    const hi = Math.min(to, this.#end);
    const out = new Uint8Array(Math.max(0, hi - lo));
    if (out.length > 0) copyOutOfRing(this.#buf, lo, out.length, out);
    return out;
  }

  clear(): void {
    this.#start = this.#end;
  }
}
