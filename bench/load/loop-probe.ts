// Bench-only preload for the bridge process under `npm run bench:load`
// (`node --import tsx --import ./bench/load/loop-probe.ts src/server.ts`, or
// bench/load/reference-relay.ts in its place): samples the bridge's event-loop delay with perf_hooks and answers the load
// generator over the IPC channel it was spawned with. Product code never
// imports it. Also reports live memory after a full GC on request, and takes
// CPU or heap profiles of a window. Costs one 10 ms sampling timer and a few
// IPC messages per measurement window.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const RESOLUTION_MS = 10;
const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
histogram.enable();

// GC pauses stop the loop too; they are what a frame's p99 latency mostly waits on.
const gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMaxMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    if (e.duration > gc.maxMs) gc.maxMs = e.duration;
    const kind = ((e as unknown as { detail?: { kind?: number } }).detail)?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.majorCount++;
      if (e.duration > gc.majorMaxMs) gc.majorMaxMs = e.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });

function resetGc(): void {
  gc.count = 0;
  gc.totalMs = 0;
  gc.maxMs = 0;
  gc.majorCount = 0;
  gc.majorMaxMs = 0;
}

/** The histogram records the time between its timer's callbacks, which includes the sampling interval itself: an idle loop reads ~10 ms. Delay is what exceeds it. */
const delayMs = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);

export interface LoopSample {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly count: number;
  /** GC pauses over the window: count, total and longest; major (mark-compact) ones apart. */
  readonly gc: { count: number; totalMs: number; maxMs: number; majorCount: number; majorMaxMs: number };
}

// A V8 CPU profile of one measured window only (bench --profile=DIR): startup and ramps stay out of it.
let profiler: Session | undefined;
function startProfile(): void {
  profiler = new Session();
  profiler.connect();
  profiler.post('Profiler.enable');
  profiler.post('Profiler.start');
}
function stopProfile(file: string): void {
  const session = profiler;
  profiler = undefined;
  session?.post('Profiler.stop', (err, result) => {
    if (err === null) writeFileSync(file, JSON.stringify(result.profile));
    session.disconnect();
  });
}

// A sampling heap profile of one measured window (bench --heap-profile=DIR), by allocation stack: what was
// allocated in the window and is still alive at its end, i.e. what a window's calls keep. (V8's option to keep
// samples freed by a mark-compact too was tried for promotion: a mark-compact also frees the young generation's
// garbage, so those samples mix promoted objects with short-lived ones, and it is not used.)
let heapSampler: Session | undefined;
function startHeapProfile(): void {
  heapSampler = new Session();
  heapSampler.connect();
  heapSampler.post('HeapProfiler.enable');
  heapSampler.post('HeapProfiler.startSampling', { samplingInterval: 1024 });
}
function stopHeapProfile(file: string): void {
  const session = heapSampler;
  heapSampler = undefined;
  session?.post('HeapProfiler.getSamplingProfile', (err, result) => {
    if (err === null) writeFileSync(file, JSON.stringify(result.profile));
    session.post('HeapProfiler.stopSampling', () => session.disconnect());
  });
}

if (process.send !== undefined) {
  process.on('message', (message: unknown) => {
    const profile = (message as { profile?: { start?: true; stopTo?: string } }).profile;
    if (profile?.start === true) return startProfile();
    if (profile?.stopTo !== undefined) return stopProfile(profile.stopTo);
    const heap = (message as { heapProfile?: { start?: true; stopTo?: string } }).heapProfile;
    if (heap?.start === true) return startHeapProfile();
    if (heap?.stopTo !== undefined) return stopHeapProfile(heap.stopTo);
    if (message === 'loop:reset') {
      histogram.reset();
      resetGc();
      return;
    }
    if (message === 'mem:read') {
      // After a full GC (the bench starts the bridge with --expose-gc), live memory rather than GC timing.
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      process.send?.({ mem: { rssKiB: m.rss / 1024, heapUsedKiB: m.heapUsed / 1024, externalKiB: m.external / 1024 } });
      return;
    }
    if (message !== 'loop:read') return;
    const sample: LoopSample = {
      p50Ms: histogram.count > 0 ? delayMs(histogram.percentile(50)) : 0,
      p99Ms: histogram.count > 0 ? delayMs(histogram.percentile(99)) : 0,
      maxMs: histogram.count > 0 ? delayMs(histogram.max) : 0,
      meanMs: histogram.count > 0 ? delayMs(histogram.mean) : 0,
      count: histogram.count,
      gc: { ...gc },
    };
    histogram.reset();
    resetGc();
    process.send?.({ loop: sample });
  });
  // The probe must never keep a draining bridge alive.
  process.channel?.unref();
}

export interface MemSample {
  readonly rssKiB: number;
  readonly heapUsedKiB: number;
  /** Memory outside the V8 heap held by JS objects (Buffers, typed arrays, WASM memory). */
  readonly externalKiB: number;
}
