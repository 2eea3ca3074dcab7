// Summarises a V8 GC trace (--trace-gc-nvp) of the bridge, as kept by
// `npm run bench:load -- --bridge-node-flags=--trace-gc-nvp --bridge-log=FILE`:
// over the last seconds of the trace (the last level's window), how many
// scavenges and mark-compacts ran, their pauses, and how fast objects were
// promoted to the old generation, which is what sets how often a
// mark-compact stops the loop. The last mark-compact of the trace is the
// bench's own forced GC for the live-memory reading, and is left out.
//
//   npx tsx bench/gc-summary.ts /tmp/gc.log [--seconds=20]

import { readFileSync } from 'node:fs';

interface Gc {
  readonly atMs: number;
  readonly pauseMs: number;
  readonly kind: string;
  readonly promotedBytes: number;
  /** Bytes the heap grew by since the previous GC: the program's allocation, which sets how often scavenges run. */
  readonly allocatedBytes: number;
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (file === undefined) throw new Error('usage: tsx bench/gc-summary.ts FILE [--seconds=20]');
const seconds = Number(args.find((a) => a.startsWith('--seconds='))?.slice(10) ?? 20);

const gcs: Gc[] = [];
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const head = /\s(\d+) ms: pause=([\d.]+) .*?gc=(\w+)/.exec(line);
  if (head === null) continue;
  const promoted = /\bpromoted=(\d+)/.exec(line);
  const allocated = /\ballocated=(\d+)/.exec(line);
  gcs.push({
    atMs: Number(head[1]),
    pauseMs: Number(head[2]),
    kind: head[3]!,
    promotedBytes: promoted === null ? 0 : Number(promoted[1]),
    allocatedBytes: allocated === null ? 0 : Number(allocated[1]),
  });
}
if (gcs.length === 0) throw new Error(`${file}: no --trace-gc-nvp lines`);
const last = gcs[gcs.length - 1]!;
const forced = last.kind !== 's' ? 1 : 0;
const window = gcs.slice(0, gcs.length - forced).filter((g) => g.atMs > last.atMs - seconds * 1000);
const spanS = (window[window.length - 1]!.atMs - window[0]!.atMs) / 1000;
const scavenges = window.filter((g) => g.kind === 's');
const majors = window.filter((g) => g.kind !== 's');
const sum = (xs: readonly Gc[], f: (g: Gc) => number): number => xs.reduce((t, g) => t + f(g), 0);
console.log(`last ${spanS.toFixed(1)} s of ${file}:`);
console.log(`  scavenges: ${scavenges.length}, pause avg ${(sum(scavenges, (g) => g.pauseMs) / Math.max(1, scavenges.length)).toFixed(2)} ms, max ${Math.max(0, ...scavenges.map((g) => g.pauseMs)).toFixed(1)} ms`);
console.log(`  mark-compacts: ${majors.length}, pauses ${majors.map((g) => g.pauseMs.toFixed(1)).join(', ') || '-'} ms`);
// The first GC's allocation happened before the window began.
console.log(`  allocated: ${(sum(window.slice(1), (g) => g.allocatedBytes) / spanS / 1024).toFixed(0)} KB/s`);
// A mark-compact's promoted= counts the young generation it evacuates as well, so the figure that steadily sets
// the mark-compact rate is what scavenges promote: objects that outlived two of them (a few hundred ms at load).
console.log(`  promoted by scavenges: ${(sum(scavenges, (g) => g.promotedBytes) / spanS / 1024).toFixed(0)} KB/s (all GCs: ${(sum(window, (g) => g.promotedBytes) / spanS / 1024).toFixed(0)} KB/s)`);
