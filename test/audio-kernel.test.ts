// Kernel selection: the WebAssembly SIMD kernel must be built (npm's pretest
// runs build:wasm) and chosen wherever the runtime has SIMD; without a binary
// or without SIMD the plain TypeScript kernel takes over, and the transcoders
// still work. Output equality of the kernels is in audio-streaming.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { availableKernels, createInboundTranscoder, defaultKernelKind } from '../src/audio/index.js';
import { findWasmBinary, loadWasmKernel } from '../src/audio/kernel-wasm.js';
import { DOWN_SHIFT, DOWN_TAPS, UP_BRANCH, UP_SHIFT, UP_TAPS } from '../src/audio/fir-design.js';

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

test('fixed-point taps: unity DC gain per branch, and no int32 accumulator overflow for any int16 input', () => {
  for (let p = 0; p < 3; p++) {
    const branch = UP_TAPS.subarray(p * UP_BRANCH, (p + 1) * UP_BRANCH);
    assert.equal(branch.reduce((a, b) => a + b, 0), 1 << UP_SHIFT, `branch ${p} DC gain`);
    const worst = branch.reduce((a, b) => a + Math.abs(b), 0) * 32768 + (1 << (UP_SHIFT - 1));
    assert.ok(worst < 2 ** 31, `branch ${p} worst case ${worst}`);
  }
  assert.equal(DOWN_TAPS.reduce((a, b) => a + b, 0), 1 << DOWN_SHIFT);
  assert.ok(DOWN_TAPS.reduce((a, b) => a + Math.abs(b), 0) * 32768 + (1 << (DOWN_SHIFT - 1)) < 2 ** 31);
  // The SIMD kernel's i32x4.dot_i16x8_s wraps only for (-32768)·(-32768) twice: no tap may be -32768.
  assert.ok(!UP_TAPS.includes(-32768) && !DOWN_TAPS.includes(-32768));
});
