// Owns loading the WebAssembly SIMD kernel (placeholder until the build lands).
import type { FirKernel } from './kernel.js';
export function loadWasmKernel(): FirKernel | null {
  return null;
}
