// Owns the wrap-round copies of the call's byte rings (the caller-audio ring,
// the outbound pacer's queue): positions are counts of bytes ever written,
// taken modulo the ring's length. The rings differ in policy (overwrite the
// oldest, or grow); the arithmetic of a copy across the ring's end is this.
// Pure.

/** Copies `data` (no longer than the ring) into `ring` from absolute `position` on, wrapping round its end. */
export function copyIntoRing(ring: Uint8Array, position: number, data: Uint8Array): void {
  const at = position % ring.length;
  const first = Math.min(data.length, ring.length - at);
  // The common case, once per frame or delta: no wrap, so no subarray views to allocate.
  if (first === data.length) ring.set(data, at);
  else {
    ring.set(data.subarray(0, first), at);
    ring.set(data.subarray(first), 0);
  }
}

/** Copies `length` bytes (no more than the ring holds) from absolute `position` in `ring` into `out` at `offset`. */
export function copyOutOfRing(ring: Uint8Array, position: number, length: number, out: Uint8Array, offset = 0): void {
  const at = position % ring.length;
  const first = Math.min(length, ring.length - at);
  out.set(ring.subarray(at, at + first), offset);
  if (first < length) out.set(ring.subarray(0, length - first), offset + first);
}
