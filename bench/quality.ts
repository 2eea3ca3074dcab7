// Owns the quality measurements shared by the audio tests and `npm run bench`:
// a float64 reference resampler, band-limited SNR, image/alias rejection,
// passband ripple and delay. Pure functions on whole signals; works on any
// streaming resampler given as a factory, so ours and the peers are measured
// by the same code. Test and bench only: never imported by the live path.

/** A streaming resampler under test: push a chunk, get the output produced so far. */
export type StreamProcessor = (chunk: Int16Array) => ArrayLike<number>;
export type ProcessorFactory = () => StreamProcessor;

// Written again here on purpose: the reference must not share code with the filter it judges.
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 300; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-18 * sum) break;
  }
  return sum;
}

/** Kaiser-windowed sinc kernel, β = 12 (stopband ≈ −120 dB): the "very high quality" reference. */
const REF_BETA = 12;
const REF_I0_BETA = besselI0(REF_BETA);
function refKernel(t: number, cutoffRatio: number, halfWidth: number): number {
  // t in samples of the rate the sinc is defined at; cutoffRatio = fc / (rate / 2).
  if (Math.abs(t) >= halfWidth) return 0;
  const x = Math.PI * cutoffRatio * t;
  const sinc = x === 0 ? cutoffRatio : (cutoffRatio * Math.sin(x)) / x;
  const r = t / halfWidth;
  return (sinc * besselI0(REF_BETA * Math.sqrt(1 - r * r))) / REF_I0_BETA;
}

/**
 * Reference 8 → 24 kHz: ideal band-limited interpolation (cutoff 4 kHz),
 * output m is the input evaluated at time (m − delay) / 3 input samples.
 * Half-width 128 input samples: flat to < 1e-5 through 3.4 kHz.
 */
export function referenceUpsample(x: ArrayLike<number>, delay24k: number): Float64Array {
  const halfWidth = 128;
  const y = new Float64Array(3 * x.length);
  const tables = new KernelTables(1, halfWidth);
  for (let m = 0; m < y.length; m++) y[m] = tables.apply(x, (m - delay24k) / 3);
  return y;
}

/**
 * Kernel values for a fractional position, computed once per distinct
 * fraction (3 for ×3 up, 1 for ÷3 down) instead of once per tap per sample.
 */
class KernelTables {
  private readonly cache = new Map<number, Float64Array>();
  constructor(
    private readonly cutoffRatio: number,
    private readonly halfWidth: number,
  ) {}
  /** Σ x[n]·kernel(t − n) over the kernel's support. */
  apply(x: ArrayLike<number>, t: number): number {
    const base = Math.floor(t);
    const frac = t - base;
    const key = Math.round(frac * 1e9);
    let table = this.cache.get(key);
    const w = this.halfWidth;
    if (!table) {
      // Index j ↔ n = base + j − w, j = 0 … 2w.
      table = new Float64Array(2 * w + 1);
      for (let j = 0; j <= 2 * w; j++) table[j] = refKernel(frac - (j - w), this.cutoffRatio, w);
      this.cache.set(key, table);
    }
    const lo = Math.max(0, base - w);
    const hi = Math.min(x.length - 1, base + w);
    let acc = 0;
    for (let n = lo; n <= hi; n++) acc += x[n]! * table[n - base + w]!;
    return acc;
  }
}

/**
 * Reference 24 → 8 kHz: low-pass at 4 kHz then decimate; output i is the
 * filtered input at 24 kHz time 3·(i − delay8k). Half-width 384 input samples.
 */
export function referenceDownsample(x: ArrayLike<number>, delay8k: number): Float64Array {
  const halfWidth = 384;
  const y = new Float64Array(Math.floor(x.length / 3));
  const tables = new KernelTables(1 / 3, halfWidth);
  for (let i = 0; i < y.length; i++) y[i] = tables.apply(x, 3 * (i - delay8k));
  return y;
}

/** In-place iterative radix-2 FFT; length must be a power of two. */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k);
        const wi = Math.sin(ang * k);
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b]! * wr - im[b]! * wi;
        const xi = re[b]! * wi + im[b]! * wr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
      }
    }
  }
}

/** 4-term Blackman-Harris (sidelobes −92 dB): keeps out-of-band energy out of in-band bins. */
function blackmanHarris(n: number, N: number): number {
  const a = (2 * Math.PI * n) / (N - 1);
  return 0.35875 - 0.48829 * Math.cos(a) + 0.14128 * Math.cos(2 * a) - 0.01168 * Math.cos(3 * a);
}

function bandEnergy(sig: ArrayLike<number>, start: number, len: number, rate: number, maxHz: number): number {
  let size = 1;
  while (size < len) size <<= 1;
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  for (let i = 0; i < len; i++) re[i] = sig[start + i]! * blackmanHarris(i, len);
  fft(re, im);
  const maxBin = Math.floor((maxHz / rate) * size);
  let e = 0;
  for (let k = 0; k <= maxBin; k++) e += re[k]! * re[k]! + im[k]! * im[k]!;
  return e;
}

/**
 * SNR of `test` against `ref` counting only 0 … maxHz, over [start, start + len).
 * Both are windowed identically, so the figure is signal energy over error energy in band.
 */
export function bandSnrDb(test: ArrayLike<number>, ref: ArrayLike<number>, rate: number, maxHz: number, start: number, len: number): number {
  const err = new Float64Array(len);
  for (let i = 0; i < len; i++) err[i] = test[start + i]! - ref[start + i]!;
  return 10 * Math.log10(bandEnergy(ref, start, len, rate, maxHz) / bandEnergy(err, 0, len, rate, maxHz));
}

/** Amplitude of the component at `hz` (Blackman-Harris windowed, exact frequency). */
export function toneAmplitude(sig: ArrayLike<number>, start: number, len: number, rate: number, hz: number): number {
  let re = 0;
  let im = 0;
  let wsum = 0;
  const w0 = (2 * Math.PI * hz) / rate;
  for (let i = 0; i < len; i++) {
    const w = blackmanHarris(i, len);
    const v = sig[start + i]! * w;
    re += v * Math.cos(w0 * i);
    im -= v * Math.sin(w0 * i);
    wsum += w;
  }
  return (2 * Math.hypot(re, im)) / wsum;
}

export function tone(rate: number, hz: number, seconds: number, amplitude: number): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** Linear sweep from f0 to f1 Hz. */
export function sweep(rate: number, f0: number, f1: number, seconds: number, amplitude: number): Int16Array {
  const n = Math.round(rate * seconds);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    out[i] = Math.round(amplitude * Math.sin(2 * Math.PI * (f0 * t + ((f1 - f0) * t * t) / (2 * seconds))));
  }
  return out;
}

/** Feeds `input` in chunks of `chunk` samples and concatenates what comes out. */
export function runStream(factory: ProcessorFactory, input: Int16Array, chunk: number): Float64Array {
  const p = factory();
  const parts: number[] = [];
  for (let pos = 0; pos < input.length; pos += chunk) {
    const out = p(input.subarray(pos, Math.min(input.length, pos + chunk)));
    for (let i = 0; i < out.length; i++) parts.push(out[i]!);
  }
  return Float64Array.from(parts);
}

/** Delay (output samples) maximising cross-correlation with `ref`, refined by a parabola. */
export function estimateDelay(out: ArrayLike<number>, ref: ArrayLike<number>, maxLag: number, start: number, len: number): number {
  const score = (lag: number): number => {
    let acc = 0;
    const end = Math.min(start + len, out.length - lag);
    for (let i = start; i < end; i++) acc += out[i + lag]! * ref[i]!;
    return acc;
  };
  let best = 0;
  let bestScore = -Infinity;
  for (let lag = 0; lag <= maxLag; lag++) {
    const s = score(lag);
    if (s > bestScore) {
      bestScore = s;
      best = lag;
    }
  }
  const a = score(best - 1);
  const c = score(best + 1);
  const denom = a - 2 * bestScore + c;
  return denom < 0 ? best + (0.5 * (a - c)) / denom : best;
}

export interface QualityFigures {
  /** SNR 0–3.4 kHz against the reference, dB. */
  snrDb: number;
  /** Worst image (up) or alias (down) level below the tone, dB, for tones ≥ 4.6 kHz after/before resampling. */
  rejectionDb: number;
  /** Max − min gain over 300–3400 Hz, dB. */
  rippleDb: number;
  /** Filter delay in ms (what the output lags the reference by). */
  delayMs: number;
}

/**
 * Refines a delay estimate to the value that maximises the band SNR, by
 * golden-section search within ±0.5 sample: the cross-correlation peak alone
 * is off by a few thousandths of a sample, which costs a few dB at 70+ dB.
 */
function refineDelay(snrAt: (delay: number) => number, estimate: number): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = estimate - 0.5;
  let b = estimate + 0.5;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = snrAt(c);
  let fd = snrAt(d);
  for (let k = 0; k < 20; k++) {
    if (fc > fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = snrAt(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = snrAt(d);
    }
  }
  return (a + b) / 2;
}

const CHUNK_8K = 160;
const CHUNK_24K = 480;

/**
 * Measures an 8 → 24 kHz streaming resampler. `delay24k` is its declared
 * delay; when undefined it is estimated from the speech cross-correlation and
 * refined to the SNR-maximising value (what any contestant deserves).
 */
export function measureUp(factory: ProcessorFactory, speech8k: Int16Array, delay24k?: number): QualityFigures {
  const y = runStream(factory, speech8k, CHUNK_8K);
  let delay = delay24k;
  if (delay === undefined) {
    const probe = speech8k.subarray(0, 8000 * 3);
    const coarse = referenceUpsample(probe, 0);
    const d0 = estimateDelay(y, coarse, 24000 * 0.1, 2400, 24000);
    delay = refineDelay((d) => bandSnrDb(y, referenceUpsample(probe, d), 24000, 3400, 2400, 3 * probe.length - 4800 - Math.ceil(d)), d0);
  }
  const ref = referenceUpsample(speech8k, delay);
  const skip = 2400;
  const snrDb = bandSnrDb(y, ref, 24000, 3400, skip, ref.length - 2 * skip - Math.ceil(delay));

  let rejectionDb = Infinity;
  let minGain = Infinity;
  let maxGain = -Infinity;
  const amp = 16000;
  const freqs: number[] = [];
  for (let f = 100; f <= 3400; f += 50) freqs.push(f);
  for (const f of freqs) {
    const out = runStream(factory, tone(8000, f, 0.5, amp), CHUNK_8K);
    const start = 3600;
    const len = out.length - start - 1200;
    const a = toneAmplitude(out, start, len, 24000, f);
    if (f >= 300) {
      const g = 20 * Math.log10(a / amp);
      minGain = Math.min(minGain, g);
      maxGain = Math.max(maxGain, g);
    }
    for (const img of [8000 - f, 8000 + f, 16000 - f]) {
      if (img < 4600 || img > 11900) continue;
      rejectionDb = Math.min(rejectionDb, 20 * Math.log10(a / toneAmplitude(out, start, len, 24000, img)));
    }
  }
  return { snrDb, rejectionDb, rippleDb: maxGain - minGain, delayMs: delay / 24 };
}

/** Measures a 24 → 8 kHz streaming resampler; `delay8k` as for measureUp. */
export function measureDown(factory: ProcessorFactory, speech24k: Int16Array, delay8k?: number): QualityFigures {
  const y = runStream(factory, speech24k, CHUNK_24K);
  let delay = delay8k;
  if (delay === undefined) {
    const probe = speech24k.subarray(0, 24000 * 3);
    const coarse = referenceDownsample(probe, 0);
    const d0 = estimateDelay(y, coarse, 8000 * 0.1, 800, 8000);
    delay = refineDelay((d) => bandSnrDb(y, referenceDownsample(probe, d), 8000, 3400, 800, probe.length / 3 - 1600 - Math.ceil(d)), d0);
  }
  const ref = referenceDownsample(speech24k, delay);
  const skip = 800;
  const snrDb = bandSnrDb(y, ref, 8000, 3400, skip, ref.length - 2 * skip - Math.ceil(delay));

  const amp = 16000;
  let rejectionDb = Infinity;
  for (let f = 4600; f <= 11900; f += 100) {
    const out = runStream(factory, tone(24000, f, 0.5, amp), CHUNK_24K);
    const start = 1200;
    const len = out.length - start - 400;
    const alias = Math.abs(f - 8000 * Math.round(f / 8000));
    rejectionDb = Math.min(rejectionDb, 20 * Math.log10(amp / toneAmplitude(out, start, len, 8000, alias)));
  }
  let minGain = Infinity;
  let maxGain = -Infinity;
  for (let f = 300; f <= 3400; f += 50) {
    const out = runStream(factory, tone(24000, f, 0.5, amp), CHUNK_24K);
    const g = 20 * Math.log10(toneAmplitude(out, 1200, out.length - 1600, 8000, f) / amp);
    minGain = Math.min(minGain, g);
    maxGain = Math.max(maxGain, g);
  }
  return { snrDb, rejectionDb, rippleDb: maxGain - minGain, delayMs: delay / 8 };
}
