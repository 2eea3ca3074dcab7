// Owns a bounded ring of recent caller audio (μ-law 8 kHz bytes): the last
// `capacity` bytes written, readable oldest first. One buffer per call, grown
// once on demand, so retaining audio costs no per-frame objects. Pure.

export class MulawRing {
  #buf: Uint8Array;
  #start = 0;
  #length = 0;

  constructor(
    initialBytes: number,
    private readonly maxBytes: number,
  ) {
    this.#buf = new Uint8Array(Math.min(initialBytes, maxBytes));
  }

  get length(): number {
    return this.#length;
  }

  /** Makes room for up to `bytes` (never beyond the maximum); keeps what is stored. */
  reserve(bytes: number): void {
    const want = Math.min(bytes, this.maxBytes);
    if (want <= this.#buf.length) return;
    const grown = new Uint8Array(want);
    grown.set(this.read());
    this.#buf = grown;
    this.#start = 0;
  }

  /** Appends, overwriting the oldest bytes when full. */
  write(bytes: Uint8Array): void {
    const cap = this.#buf.length;
    let data = bytes;
    if (data.length >= cap) {
      data = data.subarray(data.length - cap);
      this.#buf.set(data);
      this.#start = 0;
      this.#length = cap;
      return;
    }
    const end = (this.#start + this.#length) % cap;
    if (data.length <= cap - end) {
      // The common case, once per frame: no wrap, so no subarray views to allocate.
      this.#buf.set(data, end);
    } else {
      const first = cap - end;
      this.#buf.set(data.subarray(0, first), end);
      this.#buf.set(data.subarray(first), 0);
    }
    this.#length += data.length;
    if (this.#length > cap) {
      this.#start = (this.#start + this.#length - cap) % cap;
      this.#length = cap;
    }
  }

  /** Drops all but the newest `bytes`. */
  keepLast(bytes: number): void {
    if (this.#length <= bytes) return;
    this.#start = (this.#start + this.#length - bytes) % this.#buf.length;
    this.#length = bytes;
  }

  /** A copy of the stored bytes, oldest first. */
  read(): Uint8Array {
    const out = new Uint8Array(this.#length);
    const cap = this.#buf.length;
    const first = Math.min(this.#length, cap - this.#start);
    out.set(this.#buf.subarray(this.#start, this.#start + first));
    out.set(this.#buf.subarray(0, this.#length - first), first);
    return out;
  }

  clear(): void {
    this.#start = 0;
    this.#length = 0;
  }
}
