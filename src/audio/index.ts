// Owns the audio path of a call: μ-law 8 kHz <-> PCM16LE 24 kHz transcoding
// with streaming polyphase FIR resamplers (design in fir-design.ts). One
// InboundTranscoder and one OutboundTranscoder per call; each holds only its
// filter history (and, outbound, up to 5 carried bytes) plus its output
// buffer, about 3 KB per call, while the kernels (one WebAssembly instance of
// 320 KiB) and the codec tables are shared by the whole process.
// Never allocates per frame in steady state; never reads configuration.

import { DOWN_HIST, FILTER_DELAY_MS, FIR_DELAY_24K, UP_HIST } from './fir-design.js';
import { DOWN_CHUNK, UP_CHUNK, createJsKernel, type FirKernel, type KernelKind } from './kernel.js';
import { loadWasmKernel } from './kernel-wasm.js';

export { MULAW_SILENCE } from './mulaw.js';
export type { KernelKind } from './kernel.js';

export interface InboundTranscoder {
  /** μ-law 8 kHz bytes (any length, normally 160) → PCM16LE 24 kHz bytes (3×2 bytes per input byte).
   *  The returned view may alias an internal buffer, valid until the next call on this object. */
  transcode(mulaw: Uint8Array): Uint8Array;
  reset(): void;
}

export interface OutboundTranscoder {
  /** PCM16LE 24 kHz bytes of ANY length → μ-law 8 kHz bytes, streaming; a partial
   *  sample or partial group of 3 samples is carried to the next call. View valid until next call. */
  transcode(pcm16le: Uint8Array): Uint8Array;
  /** Called on a Twilio `clear` (barge-in): drop carried samples and filter history. */
  reset(): void;
}

export interface TranscoderOptions {
  /** Force a kernel (tests, bench). Default: the fastest the runtime supports. */
  kernel?: KernelKind;
}

/** Filter delay of each direction: 45 samples at 24 kHz = 15 at 8 kHz. */
export const AUDIO_DELAY_MS = FILTER_DELAY_MS;
export const UP_DELAY_SAMPLES_24K = FIR_DELAY_24K;
export const DOWN_DELAY_SAMPLES_8K = FIR_DELAY_24K / 3;

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let jsKernel: FirKernel | undefined;
let wasmKernel: FirKernel | null | undefined;

/** The kernel a transcoder would use. Unspecified: wasm when available, else js;
 *  'wasm' throws where the runtime or the built binary does not allow it. */
export function getKernel(kind?: KernelKind): FirKernel {
  if (kind !== 'js') {
    // The wasm kernel views its memory as Int16Array, which is only right on little-endian hosts.
    if (wasmKernel === undefined) wasmKernel = HOST_LITTLE_ENDIAN ? loadWasmKernel() : null;
    if (wasmKernel) return wasmKernel;
    if (kind === 'wasm') throw new Error('the WebAssembly SIMD audio kernel is not available in this runtime');
  }
  jsKernel ??= createJsKernel();
  return jsKernel;
}

/** Kernels this runtime can run, slowest first. */
export function availableKernels(): KernelKind[] {
  getKernel();
  return wasmKernel ? ['js', 'wasm'] : ['js'];
}

/** Which kernel createInboundTranscoder() picks here. */
export function defaultKernelKind(): KernelKind {
  return getKernel().kind;
}

/** Hands out a prefix view of a buffer, reusing the last one when the length repeats (the steady state). */
class PrefixViews<T extends Uint8Array | Int16Array> {
  private len = -1;
  private view: T;
  constructor(readonly buf: T) {
    this.view = buf;
  }
  of(len: number): T {
    if (len !== this.len) {
      this.view = this.buf.subarray(0, len) as T;
      this.len = len;
    }
    return this.view;
  }
}

function swapBytePairs(b: Uint8Array, start: number, end: number): void {
  for (let i = start; i + 1 < end; i += 2) {
    const t = b[i]!;
    b[i] = b[i + 1]!;
    b[i + 1] = t;
  }
}

class MulawToPcm24 implements InboundTranscoder {
  private readonly hist = new Int16Array(UP_HIST);
  private out: PrefixViews<Uint8Array> = new PrefixViews(new Uint8Array(960));
  private readonly kOut: PrefixViews<Uint8Array>;
  constructor(private readonly k: FirKernel) {
    this.kOut = new PrefixViews(k.upOutBytes);
  }

  transcode(mulaw: Uint8Array): Uint8Array {
    const k = this.k;
    const len = mulaw.length;
    if (this.out.buf.length < 6 * len) this.out = new PrefixViews(new Uint8Array(6 * len));
    const out = this.out.buf;
    for (let pos = 0; pos < len; ) {
      const n = Math.min(UP_CHUNK, len - pos);
      k.upLine.set(this.hist);
      k.upMulaw.set(n === len ? mulaw : mulaw.subarray(pos, pos + n));
      k.decodeUpsample(n);
      out.set(this.kOut.of(6 * n), 6 * pos);
      if (!HOST_LITTLE_ENDIAN) swapBytePairs(out, 6 * pos, 6 * (pos + n));
      this.hist.set(k.upHistOut);
      pos += n;
    }
    return this.out.of(6 * len);
  }

  reset(): void {
    this.hist.fill(0);
  }
}

class Pcm24ToMulaw implements OutboundTranscoder {
  private readonly hist = new Int16Array(DOWN_HIST);
  /** Bytes of an incomplete group of 3 samples (at most 5). */
  private readonly carry = new Uint8Array(6);
  private carryLen = 0;
  private out: PrefixViews<Uint8Array> = new PrefixViews(new Uint8Array(160));
  private readonly kOut: PrefixViews<Uint8Array>;
  constructor(private readonly k: FirKernel) {
    this.kOut = new PrefixViews(k.downMulaw);
  }

  transcode(pcm: Uint8Array): Uint8Array {
    const k = this.k;
    const len = pcm.length;
    const total = this.carryLen + len;
    const outLen = Math.floor(total / 6);
    if (this.out.buf.length < outLen) this.out = new PrefixViews(new Uint8Array(outLen));
    const out = this.out.buf;
    const lineBytes = k.downLineBytes;
    const base = 2 * DOWN_HIST;
    let src = 0;
    for (let done = 0; done < outLen; ) {
      const n = Math.min(DOWN_CHUNK, outLen - done);
      k.downLine.set(this.hist);
      const carried = this.carryLen;
      for (let j = 0; j < carried; j++) lineBytes[base + j] = this.carry[j]!;
      this.carryLen = 0;
      const take = 6 * n - carried;
      lineBytes.set(src === 0 && take === len ? pcm : pcm.subarray(src, src + take), base + carried);
      if (!HOST_LITTLE_ENDIAN) swapBytePairs(lineBytes, base, base + 6 * n);
      src += take;
      k.downsampleEncode(n);
      out.set(this.kOut.of(n), done);
      this.hist.set(k.downHistOut);
      done += n;
    }
    for (; src < len; src++) this.carry[this.carryLen++] = pcm[src]!;
    return this.out.of(outLen);
  }

  reset(): void {
    this.hist.fill(0);
    this.carryLen = 0;
  }
}

export function createInboundTranscoder(options: TranscoderOptions = {}): InboundTranscoder {
  return new MulawToPcm24(getKernel(options.kernel));
}

export function createOutboundTranscoder(options: TranscoderOptions = {}): OutboundTranscoder {
  return new Pcm24ToMulaw(getKernel(options.kernel));
}

/** Streaming 8 → 24 kHz resampler on linear samples (no codec): tests, bench, tools. */
export class UpsampleBy3 {
  private readonly hist = new Int16Array(UP_HIST);
  private out: PrefixViews<Int16Array> = new PrefixViews(new Int16Array(480));
  private readonly k: FirKernel;
  private readonly kOut: PrefixViews<Int16Array>;
  constructor(options: TranscoderOptions = {}) {
    this.k = getKernel(options.kernel);
    this.kOut = new PrefixViews(this.k.upOut);
  }
  get kernel(): KernelKind {
    return this.k.kind;
  }
  /** 3 output samples per input sample; the view is valid until the next call. */
  process(input: Int16Array): Int16Array {
    const k = this.k;
    const len = input.length;
    if (this.out.buf.length < 3 * len) this.out = new PrefixViews(new Int16Array(3 * len));
    for (let pos = 0; pos < len; ) {
      const n = Math.min(UP_CHUNK, len - pos);
      k.upLine.set(n === len ? input : input.subarray(pos, pos + n), UP_HIST);
      k.upLine.set(this.hist);
      k.upsample(n);
      this.out.buf.set(this.kOut.of(3 * n), 3 * pos);
      this.hist.set(k.upHistOut);
      pos += n;
    }
    return this.out.of(3 * len);
  }
  reset(): void {
    this.hist.fill(0);
  }
}

/** Streaming 24 → 8 kHz resampler on linear samples (no codec); carries 0–2 samples. */
export class DownsampleBy3 {
  private readonly hist = new Int16Array(DOWN_HIST);
  private readonly carry = new Int16Array(3);
  private carryLen = 0;
  private out: PrefixViews<Int16Array> = new PrefixViews(new Int16Array(160));
  private readonly k: FirKernel;
  private readonly kOut: PrefixViews<Int16Array>;
  constructor(options: TranscoderOptions = {}) {
    this.k = getKernel(options.kernel);
    this.kOut = new PrefixViews(this.k.downOut);
  }
  get kernel(): KernelKind {
    return this.k.kind;
  }
  /** One output sample per 3 input samples (with the carry); the view is valid until the next call. */
  process(input: Int16Array): Int16Array {
    const k = this.k;
    const len = input.length;
    const outLen = Math.floor((this.carryLen + len) / 3);
    if (this.out.buf.length < outLen) this.out = new PrefixViews(new Int16Array(outLen));
    let src = 0;
    for (let done = 0; done < outLen; ) {
      const n = Math.min(DOWN_CHUNK, outLen - done);
      const line = k.downLine;
      line.set(this.hist);
      const carried = this.carryLen;
      for (let j = 0; j < carried; j++) line[DOWN_HIST + j] = this.carry[j]!;
      this.carryLen = 0;
      const take = 3 * n - carried;
      line.set(src === 0 && take === len ? input : input.subarray(src, src + take), DOWN_HIST + carried);
      src += take;
      k.downsample(n);
      this.out.buf.set(this.kOut.of(n), done);
      this.hist.set(k.downHistOut);
      done += n;
    }
    for (; src < len; src++) this.carry[this.carryLen++] = input[src]!;
    return this.out.of(outLen);
  }
  reset(): void {
    this.hist.fill(0);
    this.carryLen = 0;
  }
}
