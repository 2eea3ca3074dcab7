// Bench-only numbers for the load bench: a fixed-bucket latency histogram
// cheap enough to record every frame (no allocation, no sorting), least
// squares fits, and readers of /proc for another process's CPU and memory.

import { readFileSync } from 'node:fs';

const BUCKET_US = 10;
const BUCKETS = 20_000; // 10 µs resolution up to 200 ms; beyond that only max and count

/** Latencies in milliseconds, recorded into 10 µs buckets. */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS + 1);
  count = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    const v = ms < 0 ? 0 : ms;
    const b = Math.floor((v * 1000) / BUCKET_US);
    this.#counts[b < BUCKETS ? b : BUCKETS]!++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  /** Upper edge of the bucket holding the q-quantile (0..1), in ms. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let b = 0; b <= BUCKETS; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return b === BUCKETS ? this.max : Math.min(this.max, ((b + 1) * BUCKET_US) / 1000);
    }
    return this.max;
  }

  /** Samples above `ms`. */
  above(ms: number): number {
    const from = Math.floor((ms * 1000) / BUCKET_US) + 1;
    let n = 0;
    for (let b = Math.min(from, BUCKETS); b <= BUCKETS; b++) n += this.#counts[b]!;
    return n;
  }

  reset(): void {
    this.#counts.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }
}

export interface LinearFit {
  /** Per unit of x. */
  readonly slope: number;
  readonly intercept: number;
  readonly r2: number;
  readonly points: number;
}

export function linearFit(xs: readonly number[], ys: readonly number[]): LinearFit {
  const n = xs.length;
  if (n < 2) return { slope: NaN, intercept: NaN, r2: NaN, points: n };
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2, points: n };
}

const CLK_TCK = 100; // USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)

/** utime + stime of a process (all its threads), in seconds. */
export function procCpuSeconds(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
}

/** Resident set size of a process, in KiB. */
export function procRssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) : NaN;
}

/** The CPUs a process may run on, as taskset prints them (e.g. "1"). */
export function procAllowedCpus(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return /Cpus_allowed_list:\s+(\S+)/.exec(status)?.[1] ?? '?';
}

/** Busy seconds of each CPU since boot (everything but idle and iowait), from /proc/stat. */
export function cpuBusySeconds(): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    out[Number(m[1])] = (total - f[3]! - f[4]!) / CLK_TCK;
  }
  return out;
}
