// Owns the allocation check behind "zero allocations per frame in steady
// state": heap growth of a forced-GC-clean heap over two run lengths, so the
// constant noise (JIT code, feedback) cancels and only the per-call slope
// remains. Used by `npm run bench` and test/audio-allocation.test.ts.

import { PerformanceObserver, constants } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full GC, exposing `gc` on demand when node was not started with --expose-gc. */
export function forceGc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g();
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export interface AllocationResult {
  /** Heap bytes per call, from the difference of two run lengths. */
  bytesPerCall: number;
  /** Garbage collections seen while measuring: any makes the figure unreliable (and proves allocation). */
  gcs: number;
  calls: number;
}

export async function allocationPerCall(call: (i: number) => void, short = 20_000, long = 200_000): Promise<AllocationResult> {
  for (let i = 0; i < short; i++) call(i); // warm: optimised code and its feedback exist before measuring
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const flags = (e as { detail?: { flags?: number } }).detail?.flags ?? 0;
      if ((flags & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) === 0) gcs++; // our own forceGc() calls do not count
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const grow = (n: number): number => {
    forceGc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) call(i);
    return process.memoryUsage().heapUsed - before;
  };
  const d1 = grow(short);
  const d2 = grow(long);
  // Observer callbacks arrive asynchronously.
  await new Promise((r) => setTimeout(r, 10));
  obs.disconnect();
  return { bytesPerCall: Math.max(0, (d2 - d1) / (long - short)), gcs, calls: short + long };
}
