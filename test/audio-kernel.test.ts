// Kernel selection: the WebAssembly SIMD kernel must be built (npm's pretest
// runs build:wasm) and chosen wherever the runtime has SIMD; without a binary
// or without SIMD the plain TypeScript kernel takes over, and the transcoders
// still work. Output equality of the kernels is in audio-streaming.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableKernels, createInboundTranscoder, defaultKernelKind } from '../src/audio/index.js';
import { findWasmBinary, loadWasmKernel } from '../src/audio/kernel-wasm.js';

// (module (func (result v128) (v128.const i32x4 0 0 0 0))): valid only where SIMD is supported.
const SIMD_PROBE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x0b,
]);
const wasmApi = (globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly;

test('the SIMD kernel is built and chosen when the runtime supports SIMD', () => {
  const simd = wasmApi?.validate(SIMD_PROBE) ?? false;
  if (!simd) {
    assert.deepEqual(availableKernels(), ['js']);
    return;
  }
  assert.ok(findWasmBinary(), 'build/wasm/fir-kernel.wasm is missing: run `npm run build:wasm`');
  assert.deepEqual(availableKernels(), ['js', 'wasm']);
  assert.equal(defaultKernelKind(), 'wasm');
});

test('a missing or unusable binary falls back instead of throwing', () => {
  assert.equal(loadWasmKernel(null), null);
  assert.equal(loadWasmKernel(Uint8Array.from([0, 0x61, 0x73, 0x6d, 9, 9])), null);
  assert.equal(createInboundTranscoder({ kernel: 'js' }).transcode(new Uint8Array(160).fill(0xff)).length, 960);
});
