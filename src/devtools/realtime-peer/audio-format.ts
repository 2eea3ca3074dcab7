// Owns conversion between the Realtime wire audio formats and PCM16 samples
// for the peer: decoding what the client appends, encoding what the peer
// speaks, and the 24 kHz → 8 kHz step for the G.711 formats. Test-tool
// quality on purpose; the product's audio path lives in src/audio and must
// never import this.

import alawmulaw from 'alawmulaw';

export type AudioFormat =
  | { readonly type: 'audio/pcm'; readonly rate: 24000 }
  | { readonly type: 'audio/pcmu' }
  | { readonly type: 'audio/pcma' };

export const PCM24K: AudioFormat = Object.freeze({ type: 'audio/pcm', rate: 24000 });

export function sampleRateOf(format: AudioFormat): number {
  return format.type === 'audio/pcm' ? 24000 : 8000;
}

export function bytesPerSample(format: AudioFormat): number {
  return format.type === 'audio/pcm' ? 2 : 1;
}

/** Wire bytes → PCM16 samples. An odd trailing byte of PCM16 is dropped (the real service rejects such audio; we are lenient). */
export function decodeAudio(bytes: Buffer, format: AudioFormat): Int16Array {
  switch (format.type) {
    case 'audio/pcm': {
      const count = bytes.length >> 1;
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes.readInt16LE(2 * i);
      return out;
    }
    case 'audio/pcmu':
      return alawmulaw.mulaw.decode(bytes);
    case 'audio/pcma':
      return alawmulaw.alaw.decode(bytes);
  }
}

/** PCM16 samples already at the format's rate → wire bytes. */
export function encodeAudio(samples: Int16Array, format: AudioFormat): Buffer {
  switch (format.type) {
    case 'audio/pcm': {
      const out = Buffer.alloc(samples.length * 2);
      for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, 2 * i);
      return out;
    }
    case 'audio/pcmu':
      return Buffer.from(alawmulaw.mulaw.encode(samples));
    case 'audio/pcma':
      return Buffer.from(alawmulaw.alaw.encode(samples));
  }
}

// Windowed-sinc low-pass for 24 kHz → 8 kHz: cutoff 3.6 kHz (below the new
// 4 kHz Nyquist so the decimation does not fold speech energy back), 63 taps
// with a Blackman window (about -74 dB stopband), built once.
const TAPS = buildLowPass(63, 3600 / 24000);

function buildLowPass(length: number, cutoff: number): Float64Array {
  const taps = new Float64Array(length);
  const mid = (length - 1) / 2;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (length - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (length - 1));
    taps[i] = sinc * w;
    sum += taps[i]!;
  }
  // Unity gain at DC.
  for (let i = 0; i < length; i++) taps[i] = taps[i]! / sum;
  return taps;
}

/** Whole-buffer 24 kHz → 8 kHz (filter, keep every third sample). Used once per reply, so no streaming state. */
export function downsample24kTo8k(input: Int16Array): Int16Array {
  const out = new Int16Array(Math.floor(input.length / 3));
  const half = (TAPS.length - 1) / 2;
  for (let o = 0; o < out.length; o++) {
    const centre = o * 3;
    let acc = 0;
    for (let k = 0; k < TAPS.length; k++) {
      const idx = centre + k - half;
      if (idx >= 0 && idx < input.length) acc += input[idx]! * TAPS[k]!;
    }
    out[o] = Math.max(-32768, Math.min(32767, Math.round(acc)));
  }
  return out;
}

/** Converts 24 kHz reply audio to a format's wire bytes. */
export function encodeReplyAudio(samples24k: Int16Array, format: AudioFormat): Buffer {
  return encodeAudio(format.type === 'audio/pcm' ? samples24k : downsample24kTo8k(samples24k), format);
}

/** Duration of wire bytes in a format, in ms. */
export function durationMs(byteLength: number, format: AudioFormat): number {
  return (byteLength / bytesPerSample(format) / sampleRateOf(format)) * 1000;
}
