// Owns the FIR kernel contract and its plain TypeScript implementation.
// A kernel is one per process, shared by every call: it exposes scratch
// "lines" (filter history followed by new samples) that a transcoder fills,
// runs, and drains synchronously, so per-call state is only the history.
// Kernels never keep state between runs and never allocate after creation.

import { DOWN_HIST, DOWN_SHIFT, DOWN_TAPS, DOWN_WINDOW, UP_BRANCH, UP_HIST, UP_SHIFT, UP_TAPS } from './fir-design.js';
import { MULAW_DECODE_TABLE, MULAW_ENCODE_TABLE } from './mulaw.js';

export type KernelKind = 'js' | 'wasm';

/** Max 8 kHz samples per upsampler run (1 s): bigger inputs are chunked. */
export const UP_CHUNK = 8192;
/** Max 8 kHz output samples per downsampler run (24,576 input samples). */
export const DOWN_CHUNK = 8192;

export interface FirKernel {
  readonly kind: KernelKind;
  /** UP_HIST history samples, then up to UP_CHUNK new 8 kHz samples. */
  readonly upLine: Int16Array;
  /** Up to UP_CHUNK μ-law bytes to decode into upLine[UP_HIST..]. */
  readonly upMulaw: Uint8Array;
  /** 3 × UP_CHUNK output samples; upOutBytes is the same memory as bytes (little-endian on the wasm kernel). */
  readonly upOut: Int16Array;
  readonly upOutBytes: Uint8Array;
  /** After a run: upLine[n .. n + UP_HIST), the history for the next run. */
  readonly upHistOut: Int16Array;
  /** upLine[0 .. UP_HIST + n) → upOut[0 .. 3n), and fills upHistOut. */
  upsample(n: number): void;
  /** Decodes upMulaw[0 .. n) into upLine[UP_HIST ..], then upsample(n). */
  decodeUpsample(n: number): void;

  /** DOWN_HIST history samples, then up to 3 × DOWN_CHUNK new 24 kHz samples. */
  readonly downLine: Int16Array;
  /** downLine viewed as bytes, for copying PCM16LE straight in. */
  readonly downLineBytes: Uint8Array;
  readonly downOut: Int16Array;
  readonly downMulaw: Uint8Array;
  /** After a run: downLine[3n .. 3n + DOWN_HIST), the history for the next run. */
  readonly downHistOut: Int16Array;
  /** downLine[0 .. DOWN_HIST + 3n) → downOut[0 .. n), and fills downHistOut. */
  downsample(n: number): void;
  /** downsample(n), writing μ-law bytes to downMulaw[0 .. n) instead. */
  downsampleEncode(n: number): void;
}

function clampInt16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

/**
 * Runs everywhere. Integer arithmetic with exactly the SIMD kernel's result, so
 * outputs match bit for bit, but it folds the filter's symmetry to halve the
 * multiplies (a scalar loop is multiply-bound; the SIMD kernel is not):
 *   branch 0 is symmetric:        T0[j] = T0[32 − j]      (j = 1..15, centre 16)
 *   branch 2 is branch 1 mirrored: T2[j] = T1[33 − j]     (j = 2..31)
 *     so with S = y1 + y2 and D = y1 − y2 over pairs (j, 33 − j):
 *     S = Σ (T1[j] + T1[33−j])(x_j + x_33−j), D = Σ (T1[j] − T1[33−j])(x_j − x_33−j)
 *   the down filter is symmetric: T[j] = T[100 − j]       (j = 5..49, centre 50)
 * All sums are integers below 2^31, exact in float64, so folding changes nothing.
 */
export function createJsKernel(): FirKernel {
  const upLine = new Int16Array(UP_HIST + UP_CHUNK);
  const upMulaw = new Uint8Array(UP_CHUNK);
  const upOut = new Int16Array(3 * UP_CHUNK);
  const downLine = new Int16Array(DOWN_HIST + 3 * DOWN_CHUNK);
  const downOut = new Int16Array(DOWN_CHUNK);
  const downMulaw = new Uint8Array(DOWN_CHUNK);
  const upHistOut = new Int16Array(UP_HIST);
  const downHistOut = new Int16Array(DOWN_HIST);
  const decodeTable = MULAW_DECODE_TABLE;
  const encodeTable = MULAW_ENCODE_TABLE;
  // Module imports are live bindings (a load and a TDZ check per use): copy them to locals for the loops.
  const upRound = 1 << (UP_SHIFT - 1);
  const downRound = 1 << (DOWN_SHIFT - 1);
  const upShift = UP_SHIFT;
  const downShift = DOWN_SHIFT;
  const upHist = UP_HIST;
  const downHist = DOWN_HIST;

  // Folded taps (see above), checked against the unfolded layout so a design change cannot silently break them.
  const t0 = new Float64Array(17); // t0[j] for j = 1..16
  const sumT = new Float64Array(17); // T1[j] + T1[33 − j], j = 2..16
  const difT = new Float64Array(17); // T1[j] − T1[33 − j]
  for (let j = 1; j <= 16; j++) t0[j] = UP_TAPS[j]!;
  for (let j = 2; j <= 16; j++) {
    sumT[j] = UP_TAPS[UP_BRANCH + j]! + UP_TAPS[UP_BRANCH + 33 - j]!;
    difT[j] = UP_TAPS[UP_BRANCH + j]! - UP_TAPS[UP_BRANCH + 33 - j]!;
  }
  const downT = new Float64Array(51); // j = 5..50
  for (let j = 5; j <= 50; j++) downT[j] = DOWN_TAPS[j]!;
  let symmetric = UP_TAPS[0] === 0 && UP_TAPS[UP_BRANCH] === 0 && UP_TAPS[UP_BRANCH + 1] === 0 && UP_TAPS[2 * UP_BRANCH] === 0 && UP_TAPS[2 * UP_BRANCH + 1] === 0;
  for (let j = 1; j <= 15; j++) symmetric &&= UP_TAPS[j] === UP_TAPS[32 - j];
  for (let j = 2; j <= 31; j++) symmetric &&= UP_TAPS[2 * UP_BRANCH + j] === UP_TAPS[UP_BRANCH + 33 - j];
  for (let j = 0; j < 5; j++) symmetric &&= DOWN_TAPS[j] === 0;
  for (let j = 5; j <= 49; j++) symmetric &&= DOWN_TAPS[j] === DOWN_TAPS[100 - j];
  if (!symmetric || DOWN_WINDOW !== 96 || UP_BRANCH !== 32) throw new Error('audio: FIR taps lost the symmetry the TypeScript kernel folds');

  function upsample(n: number): void {
    for (let i = 0; i < n; i++) {
      // One pass over j = 2..15 serves both folds; j = 1 and j = 16 are the ends of each.
      let y0 = t0[1]! * (upLine[i + 1]! + upLine[i + 31]!) + t0[16]! * upLine[i + 16]!;
      const a16 = upLine[i + 16]!;
      const b17 = upLine[i + 17]!;
      let s = sumT[16]! * (a16 + b17);
      let d = difT[16]! * (a16 - b17);
      for (let j = 2; j <= 15; j++) {
        const a = upLine[i + j]!;
        y0 += t0[j]! * (a + upLine[i + 32 - j]!);
        const b = upLine[i + 33 - j]!;
        s += sumT[j]! * (a + b);
        d += difT[j]! * (a - b);
      }
      const o = 3 * i;
      upOut[o] = clampInt16((y0 + upRound) >> upShift);
      upOut[o + 1] = clampInt16(((s + d) / 2 + upRound) >> upShift);
      upOut[o + 2] = clampInt16(((s - d) / 2 + upRound) >> upShift);
    }
    for (let j = 0; j < upHist; j++) upHistOut[j] = upLine[n + j]!;
  }

  function downAt(i: number): number {
    const b = 3 * i;
    let acc = downT[50]! * downLine[b + 50]!;
    for (let j = 5; j <= 49; j++) acc += downT[j]! * (downLine[b + j]! + downLine[b + 100 - j]!);
    return clampInt16((acc + downRound) >> downShift);
  }

  return {
    kind: 'js',
    upLine,
    upMulaw,
    upOut,
    upOutBytes: new Uint8Array(upOut.buffer, upOut.byteOffset, upOut.byteLength),
    upHistOut,
    upsample,
    decodeUpsample(n: number): void {
      for (let i = 0; i < n; i++) upLine[upHist + i] = decodeTable[upMulaw[i]!]!;
      upsample(n);
    },
    downLine,
    downLineBytes: new Uint8Array(downLine.buffer, downLine.byteOffset, downLine.byteLength),
    downOut,
    downMulaw,
    downHistOut,
    downsample(n: number): void {
      for (let i = 0; i < n; i++) downOut[i] = downAt(i);
      for (let j = 0; j < downHist; j++) downHistOut[j] = downLine[3 * n + j]!;
    },
    downsampleEncode(n: number): void {
      for (let i = 0; i < n; i++) downMulaw[i] = encodeTable[downAt(i) & 0xffff]!;
      for (let j = 0; j < downHist; j++) downHistOut[j] = downLine[3 * n + j]!;
    },
  };
}
