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

/** Runs everywhere. Integer arithmetic identical to the SIMD kernel, so outputs match bit for bit. */
export function createJsKernel(): FirKernel {
  const upLine = new Int16Array(UP_HIST + UP_CHUNK);
  const upMulaw = new Uint8Array(UP_CHUNK);
  const upOut = new Int16Array(3 * UP_CHUNK);
  const downLine = new Int16Array(DOWN_HIST + 3 * DOWN_CHUNK);
  const downOut = new Int16Array(DOWN_CHUNK);
  const downMulaw = new Uint8Array(DOWN_CHUNK);
  const upHistOut = new Int16Array(UP_HIST);
  const downHistOut = new Int16Array(DOWN_HIST);
  const downHist = DOWN_HIST;
  const upTaps = UP_TAPS;
  const decodeTable = MULAW_DECODE_TABLE;
  const encodeTable = MULAW_ENCODE_TABLE;
  const downTaps = DOWN_TAPS;
  // Module imports are live bindings (a load and a TDZ check per use): copy them to locals for the loops.
  const upRound = 1 << (UP_SHIFT - 1);
  const downRound = 1 << (DOWN_SHIFT - 1);
  const upShift = UP_SHIFT;
  const downShift = DOWN_SHIFT;
  const branch = UP_BRANCH;
  const branch2 = 2 * UP_BRANCH;
  const window = DOWN_WINDOW;
  const upHist = UP_HIST;

  function upsample(n: number): void {
    for (let i = 0; i < n; i++) {
      // The three branches read the same 32 input samples: load each once.
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      for (let j = 0; j < branch; j++) {
        const x = upLine[i + j]!;
        a0 += upTaps[j]! * x;
        a1 += upTaps[branch + j]! * x;
        a2 += upTaps[branch2 + j]! * x;
      }
      const o = 3 * i;
      upOut[o] = clampInt16((a0 + upRound) >> upShift);
      upOut[o + 1] = clampInt16((a1 + upRound) >> upShift);
      upOut[o + 2] = clampInt16((a2 + upRound) >> upShift);
    }
    for (let j = 0; j < upHist; j++) upHistOut[j] = upLine[n + j]!;
  }

  function downAt(i: number): number {
    let acc = 0;
    const base = 3 * i;
    for (let j = 0; j < window; j++) acc += downTaps[j]! * downLine[base + j]!;
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
