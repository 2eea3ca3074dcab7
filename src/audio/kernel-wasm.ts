// Owns loading the WebAssembly SIMD FIR kernel (wasm/fir-kernel.as.ts, built
// by `npm run build:wasm` into build/wasm/) and presenting it as a FirKernel.
// One instance per process, 5 pages (320 KiB) of memory shared by every call,
// which keeps only its filter history in JS (copied in and out per run).
// Returns null, never throws, when the binary is missing or the runtime lacks
// SIMD: the caller then uses the plain TypeScript kernel.

import { readFileSync } from 'node:fs';
import { DOWN_HIST, DOWN_TAPS, UP_HIST, UP_TAPS } from './fir-design.js';
import { DOWN_CHUNK, UP_CHUNK, type FirKernel } from './kernel.js';
import { MULAW_DECODE_TABLE, MULAW_ENCODE_TABLE } from './mulaw.js';

const WASM_FILE = 'build/wasm/fir-kernel.wasm';

/** Finds the binary from src/audio (tsx) or dist/src/audio (compiled): the repo root is 2 or 3 levels up. */
export function findWasmBinary(): Uint8Array | null {
  for (const up of ['../../', '../../../']) {
    try {
      return readFileSync(new URL(up + WASM_FILE, import.meta.url));
    } catch {
      // try the next candidate
    }
  }
  return null;
}

// The project compiles without lib.dom, which is where TypeScript declares WebAssembly:
// the few members used here, typed locally.
interface WasmGlobal {
  readonly value: unknown;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

interface KernelExports {
  memory: { buffer: ArrayBuffer };
  upsample(n: number): void;
  decodeUpsample(n: number): void;
  downsample(n: number): void;
  downsampleEncode(n: number): void;
  [layout: string]: unknown;
}

export function loadWasmKernel(bytes: Uint8Array | null = findWasmBinary()): FirKernel | null {
  // validate() is false on runtimes without SIMD (the module uses v128), which is the fallback signal.
  if (!bytes || !wasmApi || !wasmApi.validate(bytes)) return null;
  let ex: KernelExports;
  try {
    // Synchronous compile: the module is 4 KB and this runs once per process.
    ex = new wasmApi.Instance(new wasmApi.Module(bytes), {}).exports as KernelExports;
  } catch {
    return null;
  }
  const at = (name: string): number => (ex[name] as WasmGlobal).value as number;
  const buf = ex.memory.buffer;
  if (buf.byteLength < at('MEMORY_END')) return null;
  new Uint8Array(buf, at('ENC_TABLE'), 65536).set(MULAW_ENCODE_TABLE);
  new Int16Array(buf, at('DEC_TABLE'), 256).set(MULAW_DECODE_TABLE);
  new Int16Array(buf, at('UP_TAPS'), UP_TAPS.length).set(UP_TAPS);
  new Int16Array(buf, at('DOWN_TAPS'), DOWN_TAPS.length).set(DOWN_TAPS);
  // The memory never grows (no allocator, fixed maximum), so these views stay attached.
  const upOut = new Int16Array(buf, at('UP_OUT'), 3 * UP_CHUNK);
  const downLine = new Int16Array(buf, at('DOWN_LINE'), DOWN_HIST + 3 * DOWN_CHUNK);
  return {
    kind: 'wasm',
    upLine: new Int16Array(buf, at('UP_LINE'), UP_HIST + UP_CHUNK),
    upMulaw: new Uint8Array(buf, at('UP_MULAW'), UP_CHUNK),
    upOut,
    upOutBytes: new Uint8Array(buf, upOut.byteOffset, upOut.byteLength),
    upHistOut: new Int16Array(buf, at('UP_HIST_OUT'), UP_HIST),
    upsample: ex.upsample,
    decodeUpsample: ex.decodeUpsample,
    downLine,
    downLineBytes: new Uint8Array(buf, downLine.byteOffset, downLine.byteLength),
    downOut: new Int16Array(buf, at('DOWN_OUT'), DOWN_CHUNK),
    downMulaw: new Uint8Array(buf, at('DOWN_MULAW'), DOWN_CHUNK),
    downHistOut: new Int16Array(buf, at('DOWN_HIST_OUT'), DOWN_HIST),
    downsample: ex.downsample,
    downsampleEncode: ex.downsampleEncode,
  };
}
