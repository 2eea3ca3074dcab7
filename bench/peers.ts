// Owns the contestants of `npm run bench`: our transcoders (both kernels) and
// the registry peers named in issue 3, each wrapped two ways with the same
// shape: a per-frame transcoder with the μ-law codec included (timed), and a
// resampler-only streaming processor on linear samples (quality, measured by
// bench/quality.ts). Peers use alawmulaw for their codec, as their users would.
// Bench only: never imported by the live path.

import alawmulaw from 'alawmulaw';
import waveResampler_ from 'wave-resampler';
import libsamplerateJs from '@alexanderolsen/libsamplerate-js';
import { DownsampleBy3, UpsampleBy3, createInboundTranscoder, createOutboundTranscoder, type KernelKind } from '../src/audio/index.js';
import type { ProcessorFactory } from './quality.js';

const { mulaw } = alawmulaw;
// A CommonJS bundle: its named exports are only reachable through the default import under Node ESM.
const { create: createSrc, ConverterType } = libsamplerateJs;
const waveResample = (waveResampler_ as unknown as { resample: typeof import('wave-resampler').resample }).resample;

export interface Contestant {
  readonly name: string;
  readonly ours: boolean;
  readonly notes: string;
  /** μ-law frame → PCM16 24 kHz (any representation): codec included. */
  readonly inbound: (frame: Uint8Array) => unknown;
  /** PCM16LE 24 kHz bytes → μ-law bytes: codec included. */
  readonly outbound: (frame: Uint8Array) => unknown;
  /** Resampler alone, fresh state per call, for the quality figures. */
  readonly up: ProcessorFactory;
  readonly down: ProcessorFactory;
}

function bytesToInt16(b: Uint8Array): Int16Array {
  const out = new Int16Array(b.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = (b[2 * i]! | (b[2 * i + 1]! << 8)) << 16 >> 16;
  return out;
}

function clamp16(v: number): number {
  return v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
}

export function ours(kind: KernelKind): Contestant {
  const inb = createInboundTranscoder({ kernel: kind });
  const outb = createOutboundTranscoder({ kernel: kind });
  return {
    name: kind === 'wasm' ? 'ours (wasm simd)' : 'ours (plain ts)',
    ours: true,
    notes: '91-tap Kaiser polyphase FIR, integer, bit-identical across kernels',
    inbound: (f) => inb.transcode(f),
    outbound: (f) => outb.transcode(f),
    up: () => {
      const r = new UpsampleBy3({ kernel: kind });
      return (c) => r.process(c);
    },
    down: () => {
      const r = new DownsampleBy3({ kernel: kind });
      return (c) => r.process(c);
    },
  };
}

// ---------------------------------------------------------------- speex (echogarden WASM SIMD build)

interface SpeexModule {
  HEAP16: Int16Array;
  HEAPU32: Uint32Array;
  _malloc(n: number): number;
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_process_int(st: number, channel: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
}

/** One speex resampler with its own scratch in the module heap; processes any chunk, returns int16 output. */
function speexStream(m: SpeexModule, inRate: number, outRate: number, quality: number): (x: Int16Array) => Int16Array {
  const st = m._speex_resampler_init(1, inRate, outRate, quality, 0);
  const cap = 1 << 16;
  const inPtr = m._malloc(2 * cap);
  const outPtr = m._malloc(2 * cap);
  const lens = m._malloc(8);
  return (x) => {
    m.HEAP16.set(x, inPtr >> 1);
    m.HEAPU32[lens >> 2] = x.length;
    m.HEAPU32[(lens >> 2) + 1] = cap;
    m._speex_resampler_process_int(st, 0, inPtr, lens, outPtr, lens + 4);
    const written = m.HEAPU32[(lens >> 2) + 1]!;
    // Views are taken after the call: the heap may have grown.
    return m.HEAP16.slice(outPtr >> 1, (outPtr >> 1) + written);
  };
}

export async function speex(quality = 5): Promise<Contestant> {
  // A variable specifier: the package ships no type declarations.
  const specifier = '@echogarden/speex-resampler-wasm/simd';
  const { default: load } = (await import(specifier)) as { default: () => Promise<SpeexModule> };
  const m = await load();
  const up = speexStream(m, 8000, 24000, quality);
  const down = speexStream(m, 24000, 8000, quality);
  return {
    name: `speex wasm-simd q${quality}`,
    ours: false,
    notes: '@echogarden/speex-resampler-wasm (simd), process_int; codec: alawmulaw',
    inbound: (f) => {
      const pcm = up(mulaw.decode(f));
      return new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    },
    outbound: (f) => mulaw.encode(down(bytesToInt16(f))),
    up: () => speexStream(m, 8000, 24000, quality),
    down: () => speexStream(m, 24000, 8000, quality),
  };
}

// ---------------------------------------------------------------- libsamplerate-js

interface SrcLike {
  full(dataIn: Float32Array, dataOut?: Float32Array | null, outLength?: { frames: number } | null): Float32Array;
}

function srcStream(src: SrcLike, ratio: number): (x: Int16Array) => Float64Array {
  const inF = new Float32Array(1 << 16);
  const outF = new Float32Array(1 << 17);
  const len = { frames: 0 };
  return (x) => {
    for (let i = 0; i < x.length; i++) inF[i] = x[i]! / 32768;
    src.full(inF.subarray(0, x.length), outF.subarray(0, Math.ceil(x.length * ratio) + 64), len);
    const out = new Float64Array(len.frames);
    for (let i = 0; i < len.frames; i++) out[i] = outF[i]! * 32768;
    return out;
  };
}

export async function libsamplerate(): Promise<Contestant> {
  const make = (inRate: number, outRate: number) =>
    createSrc(1, inRate, outRate, { converterType: ConverterType.SRC_SINC_MEDIUM_QUALITY }) as Promise<SrcLike>;
  const up = srcStream(await make(8000, 24000), 3);
  const down = srcStream(await make(24000, 8000), 1 / 3);
  // Quality factories need fresh state per run; created ahead because create() is async.
  const pool = { up: [] as SrcLike[], down: [] as SrcLike[] };
  const prepare = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      pool.up.push(await make(8000, 24000));
      pool.down.push(await make(24000, 8000));
    }
  };
  await prepare(160);
  const toBytes = (y: Float64Array): Uint8Array => {
    const out = new Int16Array(y.length);
    for (let i = 0; i < y.length; i++) out[i] = clamp16(y[i]!);
    return new Uint8Array(out.buffer);
  };
  return {
    name: 'libsamplerate-js SINC_MEDIUM',
    ours: false,
    notes: '@alexanderolsen/libsamplerate-js full() API, float32; codec: alawmulaw',
    inbound: (f) => toBytes(up(mulaw.decode(f))),
    outbound: (f) => {
      const y = down(bytesToInt16(f));
      const s = new Int16Array(y.length);
      for (let i = 0; i < y.length; i++) s[i] = clamp16(y[i]!);
      return mulaw.encode(s);
    },
    up: () => srcStream(pool.up.pop()!, 3),
    down: () => srcStream(pool.down.pop()!, 1 / 3),
  };
}

// ---------------------------------------------------------------- wave-resampler (not streaming)

export function waveResampler(): Contestant {
  // Each call resamples its chunk in isolation (the library keeps no state): that is its frame-edge error.
  const up = (x: Int16Array): ArrayLike<number> => waveResample(x, 8000, 24000);
  const down = (x: Int16Array): ArrayLike<number> => waveResample(x, 24000, 8000);
  return {
    name: 'wave-resampler (default cubic+LPF)',
    ours: false,
    notes: 'stateless per call, so per-frame use has wrong frame edges; codec: alawmulaw',
    inbound: (f) => {
      const y = up(mulaw.decode(f));
      const s = new Int16Array(y.length);
      for (let i = 0; i < y.length; i++) s[i] = clamp16(y[i]!);
      return new Uint8Array(s.buffer);
    },
    outbound: (f) => {
      const y = down(bytesToInt16(f));
      const s = new Int16Array(y.length);
      for (let i = 0; i < y.length; i++) s[i] = clamp16(y[i]!);
      return mulaw.encode(s);
    },
    up: () => up,
    down: () => down,
  };
}
