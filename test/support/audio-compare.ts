// Test helpers that compare audio signals: the best normalised
// cross-correlation over a range of lags, for "did the caller hear what the
// AI said" checks that tolerate codec noise and pipeline delay.

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, to - from));
}

/** Best correlation of `probe` against `signal` at offsets [minLag, maxLag]; returns the score and lag. */
export function bestCorrelation(signal: Int16Array, probe: Int16Array, minLag: number, maxLag: number): { score: number; lag: number } {
  let best = { score: -1, lag: 0 };
  let pp = 0;
  for (let i = 0; i < probe.length; i++) pp += probe[i]! * probe[i]!;
  for (let lag = Math.max(0, minLag); lag <= maxLag && lag + probe.length <= signal.length; lag++) {
    let sp = 0;
    let ss = 0;
    for (let i = 0; i < probe.length; i++) {
      const s = signal[lag + i]!;
      sp += s * probe[i]!;
      ss += s * s;
    }
    const score = ss > 0 && pp > 0 ? sp / Math.sqrt(ss * pp) : 0;
    if (score > best.score) best = { score, lag };
  }
  return best;
}

/** Plain decimation by 3 after a short moving average: a crude, independent reference for 24 → 8 kHz. */
export function crudeDecimate(x: Int16Array): Int16Array {
  const out = new Int16Array(Math.floor(x.length / 3));
  for (let i = 0; i < out.length; i++) out[i] = Math.round((x[3 * i]! + x[3 * i + 1]! + x[3 * i + 2]!) / 3);
  return out;
}
