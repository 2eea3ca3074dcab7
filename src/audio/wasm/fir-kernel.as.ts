// @ts-nocheck -- AssemblyScript, compiled by `npm run build:wasm` (asc), not by tsc:
// its i32/v128 types and SIMD builtins are unknown to TypeScript.
//
// Owns the WebAssembly SIMD FIR kernel: the same fixed-point arithmetic as
// the plain TypeScript kernel in ../kernel.ts (int16 taps × int16 samples summed
// exactly in int32, round, arithmetic shift, saturate), so outputs are
// bit-identical. One instance per process; it holds no per-call state: the
// caller copies a call's filter history into a line before each run and
// back out after. No allocator, no imports: fixed addresses, fixed memory.
// Taps and μ-law tables are written by the loader (../kernel-wasm.ts) from the
// same arrays the TypeScript kernel uses.

// Memory layout (bytes). The loader reads these exported globals.
export const ENC_TABLE: usize = 0x10000; // 65536 × u8: (sample & 0xffff) → μ-law
export const DEC_TABLE: usize = 0x20000; // 256 × i16
export const UP_TAPS: usize = 0x20200; // 3 branches × 32 × i16, reversed
export const DOWN_TAPS: usize = 0x20300; // 96 × i16, reversed
export const UP_MULAW: usize = 0x20400; // 8192 × u8
export const UP_LINE: usize = 0x22400; // (31 + 8192) × i16, + slack for whole-block over-read
export const UP_OUT: usize = 0x26800; // 3 × 8192 × i16, + slack for whole-block over-write
export const DOWN_LINE: usize = 0x33000; // (95 + 3 × 8192) × i16, + slack
export const DOWN_OUT: usize = 0x3f400; // 8192 × i16, + slack
export const DOWN_MULAW: usize = 0x43800; // 8192 × u8, + slack
export const UP_HIST_OUT: usize = 0x46000; // 31 × i16: the line's last 31 samples after a run
export const DOWN_HIST_OUT: usize = 0x46100; // 95 × i16: likewise for the downsampler
export const MEMORY_END: usize = 0x46200; // UP_SCRATCH (48 bytes) sits at 0x46180

const UP_HIST: u32 = 31;
const DOWN_HIST: u32 = 95;

// First transpose-and-add round of two outputs' partial lanes: [a0+a2, b0+b2, a1+a3, b1+b3].
@inline function pairSum(a: v128, b: v128): v128 {
  return i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
}

// Second round: [Σa, Σb, Σc, Σd] from pairSum(a, b) and pairSum(c, d).
@inline function quadSum(ab: v128, cd: v128): v128 {
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

// Scratch for one block's three branch results (phase-major), between the two passes below.
const UP_SCRATCH: usize = 0x46180;

/** UP_LINE[0 .. 31 + n) → UP_OUT[0 .. 3n). Runs whole blocks of 4 inputs; the excess lands in slack. */
export function upsample(n: u32): void {
  const round = i32x4.splat(1 << 13);
  for (let i: u32 = 0; i < n; i += 4) {
    const p = <usize>(UP_LINE + 2 * i);
    // Branch-major, like down4: each tap vector is loaded once and used for 4
    // consecutive inputs (windows 2 bytes apart), keeping 6 vectors live. A real
    // loop over the branches (not unrolled) stops the optimiser from merging the
    // branches' identical data loads into 16 long-lived values that V8 would spill.
    for (let b: usize = 0; b < 192; b += 64) {
      let t = v128.load(UP_TAPS + b);
      let a0 = i32x4.dot_i16x8_s(v128.load(p), t);
      let a1 = i32x4.dot_i16x8_s(v128.load(p, 2), t);
      let a2 = i32x4.dot_i16x8_s(v128.load(p, 4), t);
      let a3 = i32x4.dot_i16x8_s(v128.load(p, 6), t);
      t = v128.load(UP_TAPS + b, 16);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(p, 16), t));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(p, 18), t));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load(p, 20), t));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load(p, 22), t));
      t = v128.load(UP_TAPS + b, 32);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(p, 32), t));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(p, 34), t));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load(p, 36), t));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load(p, 38), t));
      t = v128.load(UP_TAPS + b, 48);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(p, 48), t));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(p, 50), t));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load(p, 52), t));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load(p, 54), t));
      // Branch b/64 for inputs i..i+3 (outputs 3(i+j) + b/64), rounded and shifted.
      v128.store(UP_SCRATCH + (b >> 2), i32x4.shr_s(i32x4.add(quadSum(pairSum(a0, a1), pairSum(a2, a3)), round), 14));
    }
    const s01 = i16x8.narrow_i32x4_s(v128.load(UP_SCRATCH), v128.load(UP_SCRATCH, 16));
    const r2 = v128.load(UP_SCRATCH, 32);
    const s22 = i16x8.narrow_i32x4_s(r2, r2);
    // Interleave to time order: o = 3j + p. s01 = [r0_0..3, r1_0..3], s22 = [r2_0..3, r2_0..3].
    const q = <usize>(UP_OUT + 6 * i);
    v128.store(q, i16x8.shuffle(s01, s22, 0, 4, 8, 1, 5, 9, 2, 6));
    v128.store(q, i16x8.shuffle(s01, s22, 10, 3, 7, 11, 0, 0, 0, 0), 16);
  }
  // The next run's history: one bulk copy here beats a per-sample loop in the caller.
  memory.copy(UP_HIST_OUT, UP_LINE + 2 * n, 2 * UP_HIST);
}

/** Decodes UP_MULAW[0 .. n) into UP_LINE[31 ..], then upsample(n). */
export function decodeUpsample(n: u32): void {
  const dst = <usize>(UP_LINE + 2 * UP_HIST);
  for (let i: u32 = 0; i < n; i++) {
    store<i16>(dst + 2 * i, load<i16>(DEC_TABLE + 2 * <u32>load<u8>(UP_MULAW + i)));
  }
  upsample(n);
}

// Four consecutive outputs i..i+3 as saturated i16 in the low half of the vector.
// Each tap vector is loaded once and used for all four outputs (their windows
// start 6 bytes apart): the loop is load-bound, so this halves the loads.
@inline function down4(i: u32): v128 {
  const p = <usize>(DOWN_LINE + 6 * i);
  let t = v128.load(DOWN_TAPS);
  let a0 = i32x4.dot_i16x8_s(v128.load(p), t);
  let a1 = i32x4.dot_i16x8_s(v128.load(p, 6), t);
  let a2 = i32x4.dot_i16x8_s(v128.load(p, 12), t);
  let a3 = i32x4.dot_i16x8_s(v128.load(p, 18), t);
  for (let j: usize = 16; j < 192; j += 16) {
    t = v128.load(DOWN_TAPS + j);
    const q = p + j;
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(q), t));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(q, 6), t));
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load(q, 12), t));
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load(q, 18), t));
  }
  const s = i32x4.shr_s(i32x4.add(quadSum(pairSum(a0, a1), pairSum(a2, a3)), i32x4.splat(1 << 14)), 15);
  return i16x8.narrow_i32x4_s(s, s);
}

/** DOWN_LINE[0 .. 95 + 3n) → DOWN_OUT[0 .. n), whole blocks of 4. */
export function downsample(n: u32): void {
  for (let i: u32 = 0; i < n; i += 4) v128.store64_lane(<usize>(DOWN_OUT + 2 * i), down4(i), 0);
  memory.copy(DOWN_HIST_OUT, DOWN_LINE + 6 * n, 2 * DOWN_HIST);
}

/** As downsample, but writes μ-law bytes to DOWN_MULAW[0 .. n). */
export function downsampleEncode(n: u32): void {
  for (let i: u32 = 0; i < n; i += 4) {
    const s = down4(i);
    const q = <usize>(DOWN_MULAW + i);
    store<u8>(q, load<u8>(ENC_TABLE + <u32>i16x8.extract_lane_u(s, 0)));
    store<u8>(q, load<u8>(ENC_TABLE + <u32>i16x8.extract_lane_u(s, 1)), 1);
    store<u8>(q, load<u8>(ENC_TABLE + <u32>i16x8.extract_lane_u(s, 2)), 2);
    store<u8>(q, load<u8>(ENC_TABLE + <u32>i16x8.extract_lane_u(s, 3)), 3);
  }
  memory.copy(DOWN_HIST_OUT, DOWN_LINE + 6 * n, 2 * DOWN_HIST);
}
