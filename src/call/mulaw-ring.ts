// Owns a bounded ring of recent caller audio (μ-law 8 kHz bytes), addressed
// by absolute position (bytes ever written), so its user can remember where
// an utterance began and ended and read it back later without copying it
// out first. Keeps at most its capacity, newest bytes; one buffer per call,
// grown on demand, so retaining audio costs no per-frame or per-turn
// objects. Pure.

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
    this.#place(kept, this.#start);
  }

  /** Appends, overwriting the oldest bytes when full. */
  write(bytes: Uint8Array): void {
    const cap = this.#buf.length;
    const data = bytes.length > cap ? bytes.subarray(bytes.length - cap) : bytes;
    this.#place(data, this.#end + bytes.length - data.length);
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
    if (out.length === 0) return out;
    const cap = this.#buf.length;
    const at = lo % cap;
    const first = Math.min(out.length, cap - at);
    out.set(this.#buf.subarray(at, at + first));
    if (first < out.length) out.set(this.#buf.subarray(0, out.length - first), first);
    return out;
  }

  clear(): void {
    this.#start = this.#end;
  }

  /** Copies `data` (at most the capacity) into the buffer from absolute `position` on, wrapping round its end. */
  #place(data: Uint8Array, position: number): void {
    const cap = this.#buf.length;
    const at = position % cap;
    const first = Math.min(data.length, cap - at);
    // The common case, once per frame: no wrap, so no subarray views to allocate.
    if (first === data.length) this.#buf.set(data, at);
    else {
      this.#buf.set(data.subarray(0, first), at);
      this.#buf.set(data.subarray(first), 0);
    }
  }
}
