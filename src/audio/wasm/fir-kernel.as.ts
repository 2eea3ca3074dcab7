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
export const ENC_TABLE: u32 = 0x10000; // 65536 × u8: (sample & 0xffff) → μ-law
export const DEC_TABLE: u32 = 0x20000; // 256 × i16
export const UP_TAPS: u32 = 0x20200; // 3 branches × 32 × i16, reversed
export const DOWN_TAPS: u32 = 0x20300; // 96 × i16, reversed
export const UP_MULAW: u32 = 0x20400; // 8192 × u8
export const UP_LINE: u32 = 0x22400; // (31 + 8192) × i16, + slack for whole-block over-read
export const UP_OUT: u32 = 0x26800; // 3 × 8192 × i16, + slack for whole-block over-write
export const DOWN_LINE: u32 = 0x33000; // (95 + 3 × 8192) × i16, + slack
export const DOWN_OUT: u32 = 0x3f400; // 8192 × i16, + slack
export const DOWN_MULAW: u32 = 0x43800; // 8192 × u8, + slack
export const UP_HIST_OUT: u32 = 0x46000; // 31 × i16: the line's last 31 samples after a run
export const DOWN_HIST_OUT: u32 = 0x46100; // 95 × i16: likewise for the downsampler
export const MEMORY_END: u32 = 0x46200;

const UP_HIST: u32 = 31;
const DOWN_HIST: u32 = 95;

// [Σa, Σb, Σc, Σd] from four i32x4 accumulators: two transpose-and-add rounds.
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

// 32-tap dot product of the line at p with one branch (four 8-lane vectors), as 4 partial lanes.
@inline function dot32(p: usize, t0: v128, t1: v128, t2: v128, t3: v128): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(v128.load(p), t0), i32x4.dot_i16x8_s(v128.load(p, 16), t1)),
    i32x4.add(i32x4.dot_i16x8_s(v128.load(p, 32), t2), i32x4.dot_i16x8_s(v128.load(p, 48), t3)),
  );
}

/** UP_LINE[0 .. 31 + n) → UP_OUT[0 .. 3n). Runs whole blocks of 4 inputs; the excess lands in slack. */
export function upsample(n: u32): void {
  const t00 = v128.load(UP_TAPS), t01 = v128.load(UP_TAPS, 16), t02 = v128.load(UP_TAPS, 32), t03 = v128.load(UP_TAPS, 48);
  const t10 = v128.load(UP_TAPS, 64), t11 = v128.load(UP_TAPS, 80), t12 = v128.load(UP_TAPS, 96), t13 = v128.load(UP_TAPS, 112);
  const t20 = v128.load(UP_TAPS, 128), t21 = v128.load(UP_TAPS, 144), t22 = v128.load(UP_TAPS, 160), t23 = v128.load(UP_TAPS, 176);
  const round = i32x4.splat(1 << 13);
  for (let i: u32 = 0; i < n; i += 4) {
    const p = <usize>(UP_LINE + 2 * i);
    // Phase-major: r_p holds branch p for inputs i..i+3 (outputs 3(i+j)+p).
    const r0 = hsum4(dot32(p, t00, t01, t02, t03), dot32(p + 2, t00, t01, t02, t03), dot32(p + 4, t00, t01, t02, t03), dot32(p + 6, t00, t01, t02, t03));
    const r1 = hsum4(dot32(p, t10, t11, t12, t13), dot32(p + 2, t10, t11, t12, t13), dot32(p + 4, t10, t11, t12, t13), dot32(p + 6, t10, t11, t12, t13));
    const r2 = hsum4(dot32(p, t20, t21, t22, t23), dot32(p + 2, t20, t21, t22, t23), dot32(p + 4, t20, t21, t22, t23), dot32(p + 6, t20, t21, t22, t23));
    const s01 = i16x8.narrow_i32x4_s(i32x4.shr_s(i32x4.add(r0, round), 14), i32x4.shr_s(i32x4.add(r1, round), 14));
    const s2 = i16x8.narrow_i32x4_s(i32x4.shr_s(i32x4.add(r2, round), 14), i32x4.shr_s(i32x4.add(r2, round), 14));
    // Interleave to time order: o = 3j + p. s01 = [r0_0..3, r1_0..3], s2 = [r2_0..3, r2_0..3].
    const q = <usize>(UP_OUT + 6 * i);
    v128.store(q, i16x8.shuffle(s01, s2, 0, 4, 8, 1, 5, 9, 2, 6));
    v128.store(q, i16x8.shuffle(s01, s2, 10, 3, 7, 11, 0, 0, 0, 0), 16);
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

// 96-tap dot product of DOWN_LINE at p with the taps, as 4 partial lanes.
@inline function dot96(p: usize, t: usize): v128 {
  let acc = i32x4.dot_i16x8_s(v128.load(p), v128.load(t));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 16), v128.load(t, 16)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 32), v128.load(t, 32)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 48), v128.load(t, 48)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 64), v128.load(t, 64)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 80), v128.load(t, 80)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 96), v128.load(t, 96)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 112), v128.load(t, 112)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 128), v128.load(t, 128)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 144), v128.load(t, 144)));
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 160), v128.load(t, 160)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(p, 176), v128.load(t, 176)));
}

// Four consecutive outputs i..i+3 as saturated i16 in the low half of the vector.
@inline function down4(i: u32): v128 {
  const p = <usize>(DOWN_LINE + 6 * i);
  const t = <usize>DOWN_TAPS;
  const r = hsum4(dot96(p, t), dot96(p + 6, t), dot96(p + 12, t), dot96(p + 18, t));
  const s = i32x4.shr_s(i32x4.add(r, i32x4.splat(1 << 14)), 15);
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
