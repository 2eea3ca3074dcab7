// Owns the design of the 8 kHz <-> 24 kHz anti-imaging / anti-aliasing filter
// and its fixed-point polyphase layouts. Computed once at import, shared by
// every call and by both kernels (plain TypeScript and WebAssembly SIMD), so
// the two can never disagree about the taps. Never allocates after import.
//
// Design (one prototype, used in both directions):
//   - Linear-phase low-pass at the 24 kHz rate, 91 taps, Kaiser window β = 7,
//     cutoff 4000 Hz (the 8 kHz Nyquist, centred in the 3.4 → 4.6 kHz
//     transition band that the telephone band allows).
//   - Group delay (91 − 1) / 2 = 45 samples at 24 kHz = 1.875 ms, an integer
//     15 samples at 8 kHz, so both directions line up with a reference on
//     whole samples.
//   - Float design response: passband 0–3.4 kHz within ±0.002 dB, stopband
//     from 4.6 kHz about −71 dB. Kaiser's pass and stop ripple are equal, so
//     a passband error near −70 dB is what buys the ≥ 60 dB SNR against an
//     ideal resampler; β = 7 balances it against the stopband. Measured after
//     quantisation (test/audio-quality.test.ts, npm run bench): ≥ 70 dB
//     image/alias rejection, SNR ≈ 76–78 dB, ripple 0.004 dB; rounding the
//     output to 16 bits alone caps the SNR near 78–81 dB.
//   - Fixed point, so that the TypeScript and SIMD kernels agree bit for bit
//     (int16 × int16 products summed in int32 are exact in both):
//       up   (×3 interpolation, gain 3): Q14, each polyphase branch rounded
//            and then corrected so it sums to exactly 2^14 (unity DC gain per
//            branch: no 8 kHz image of DC from coefficient rounding).
//       down (gain 1): Q15, corrected to sum to exactly 2^15.
//     The correction re-rounds the taps whose fractions lay nearest one half
//     (least added error) and keeps the prototype's symmetry (branch 0 and
//     the down filter symmetric, branch 2 = branch 1 reversed), which the
//     TypeScript kernel folds to halve its multiplies.
//     Worst-case |accumulator| stays below 2^31 for any int16 input.
//   - 91 taps fit 3 × 32 (up: branches of 31, 30, 30 taps) and 96 (down)
//     slots, so the SIMD kernel runs on whole 8-lane vectors.

export const FIR_TAPS = 91;
export const FIR_BETA = 7;
export const FIR_CUTOFF_HZ = 4000;
export const FIR_RATE_HZ = 24000;
/** Group delay in 24 kHz samples. */
export const FIR_DELAY_24K = (FIR_TAPS - 1) / 2;
/** Filter delay of either direction, in milliseconds. */
export const FILTER_DELAY_MS = (FIR_DELAY_24K / FIR_RATE_HZ) * 1000;

/** Samples per polyphase branch slot of the upsampler (taps padded with zeros). */
export const UP_BRANCH = 32;
/** Input history the upsampler keeps between calls: one branch minus the newest sample. */
export const UP_HIST = UP_BRANCH - 1;
export const UP_SHIFT = 14;
/** Window of the downsampler in 24 kHz samples. */
export const DOWN_WINDOW = 96;
export const DOWN_HIST = DOWN_WINDOW - 1;
export const DOWN_SHIFT = 15;

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 200; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return sum;
}

/** Kaiser-windowed sinc low-pass in float64, normalised to unity DC gain. */
export function designKaiserLowpass(taps: number, cutoffHz: number, rateHz: number, beta: number): Float64Array {
  const h = new Float64Array(taps);
  const mid = (taps - 1) / 2;
  const wc = (2 * Math.PI * cutoffHz) / rateHz;
  const norm = besselI0(beta);
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const t = n - mid;
    const sinc = t === 0 ? wc / Math.PI : Math.sin(wc * t) / (Math.PI * t);
    const r = mid === 0 ? 0 : t / mid;
    h[n] = (sinc * besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r)))) / norm;
    sum += h[n]!;
  }
  for (let n = 0; n < taps; n++) h[n] = h[n]! / sum;
  return h;
}

/** Rounds `values × 2^shift` to integers whose sum is exactly `target`. Where the
 *  plain rounding misses the target, the taps re-rounded the other way are those
 *  whose fractions lay nearest one half, so the added error is the least possible. */
function quantize(values: readonly number[], shift: number, target: number): number[] {
  const scaled = values.map((v) => v * 2 ** shift);
  const q = scaled.map((v) => Math.round(v));
  let residue = target - q.reduce((a, b) => a + b, 0);
  const step = residue > 0 ? 1 : -1;
  // Candidates ordered by how little re-rounding them in the needed direction costs.
  const order = scaled.map((_, i) => i).sort((a, b) => step * (scaled[b]! - q[b]!) - step * (scaled[a]! - q[a]!));
  for (let k = 0; residue !== 0; k = (k + 1) % order.length) {
    q[order[k]!]! += step;
    residue -= step;
  }
  return q;
}

/** quantize() for a symmetric odd-length filter, keeping the integer taps symmetric
 *  (the TypeScript kernel folds symmetric pairs): the odd part of the residue goes
 *  to the centre tap, the rest to the pairs whose fractions lay nearest one half. */
function quantizeSymmetric(values: readonly number[], shift: number, target: number): number[] {
  const n = values.length;
  const mid = (n - 1) / 2;
  const scaled = values.map((v) => v * 2 ** shift);
  const q = scaled.map((v) => Math.round(v));
  for (let k = 0; k < mid; k++) q[n - 1 - k] = q[k]!;
  let residue = target - q.reduce((a, b) => a + b, 0);
  if (residue % 2 !== 0) {
    const c = residue > 0 ? 1 : -1;
    q[mid] = q[mid]! + c;
    residue -= c;
  }
  const step = residue > 0 ? 1 : -1;
  const order = Array.from({ length: mid }, (_, i) => i).sort((a, b) => step * (scaled[b]! - q[b]!) - step * (scaled[a]! - q[a]!));
  for (let k = 0; residue !== 0; k = (k + 1) % order.length) {
    const i = order[k]!;
    q[i] = q[i]! + step;
    q[n - 1 - i] = q[i]!;
    residue -= 2 * step;
  }
  return q;
}

export const PROTOTYPE: Float64Array = designKaiserLowpass(FIR_TAPS, FIR_CUTOFF_HZ, FIR_RATE_HZ, FIR_BETA);

/**
 * Upsampler taps, 3 branches × UP_BRANCH, each branch reversed so that output
 * 3i+p = Σ_j UP_TAPS[p·32 + j] · line[i + j] over j = 0..31 (line[i + 31] is the
 * newest input sample). Branch p holds prototype taps h[3k + p] · 3.
 */
export const UP_TAPS: Int16Array = (() => {
  const out = new Int16Array(3 * UP_BRANCH);
  const branch = (p: number): number[] => {
    const b: number[] = [];
    for (let k = 0; 3 * k + p < FIR_TAPS; k++) b.push(3 * PROTOTYPE[3 * k + p]!);
    return b;
  };
  // Symmetry of the prototype carries over: branch 0 (31 taps) is symmetric and
  // branch 2 is branch 1 reversed. Quantising keeps both properties exactly.
  const q0 = quantizeSymmetric(branch(0), UP_SHIFT, 1 << UP_SHIFT);
  const q1 = quantize(branch(1), UP_SHIFT, 1 << UP_SHIFT);
  const q2 = [...q1].reverse();
  [q0, q1, q2].forEach((q, p) => {
    for (let k = 0; k < q.length; k++) out[p * UP_BRANCH + (UP_BRANCH - 1 - k)] = q[k]!;
  });
  return out;
})();

/**
 * Downsampler taps, reversed and left-padded with zeros so that output i =
 * Σ_j DOWN_TAPS[j] · line[3i + j] over j = 0..95 (line[3i + 95] is the newest
 * sample used: the first sample of 24 kHz group i). Q15 prototype.
 */
export const DOWN_TAPS: Int16Array = (() => {
  const out = new Int16Array(DOWN_WINDOW);
  const q = quantizeSymmetric(Array.from(PROTOTYPE), DOWN_SHIFT, 1 << DOWN_SHIFT);
  for (let k = 0; k < FIR_TAPS; k++) out[DOWN_WINDOW - 1 - k] = q[k]!;
  return out;
})();
