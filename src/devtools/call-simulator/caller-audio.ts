// Owns the caller's side of the audio: turns a WAV path or 8 kHz PCM16
// samples into 20 ms μ-law frames (base64, ready for the wire) with a
// per-frame "silent" flag, once per source, before the call starts, so the
// per-frame path only picks a precomputed string.

import alawmulaw from 'alawmulaw';
import { readWav } from '../../audio/wav.js';

export const FRAME_SAMPLES = 160;
export const FRAME_MS = 20;
export const CALLER_RATE = 8000;

/** A WAV file path (8 kHz mono PCM16) or samples already at 8 kHz. */
export type AudioSource = string | Int16Array;

export interface CallerClip {
  /** Base64 μ-law payload of each 20 ms frame; the last one is padded with silence. */
  readonly payloads: readonly string[];
  /** Whether each frame is silent (every sample within the threshold). */
  readonly silent: readonly boolean[];
  /** Index of the last frame that is not silent, or -1. */
  readonly lastVoicedFrame: number;
  readonly durationMs: number;
}

/** Peak absolute sample value at or below which a frame counts as silence (about -60 dBFS). */
export const DEFAULT_SILENCE_THRESHOLD = 32;

const MULAW_SILENCE = 0xff; // μ-law code for 0
export const SILENT_PAYLOAD = Buffer.alloc(FRAME_SAMPLES, MULAW_SILENCE).toString('base64');

export function loadSamples(source: AudioSource): Int16Array {
  if (typeof source !== 'string') return source;
  const wav = readWav(source);
  if (wav.sampleRate !== CALLER_RATE) {
    throw new Error(`${source}: caller audio must be ${CALLER_RATE} Hz, got ${wav.sampleRate} Hz`);
  }
  return wav.samples;
}

export function makeClip(samples: Int16Array, silenceThreshold = DEFAULT_SILENCE_THRESHOLD): CallerClip {
  const frames = Math.ceil(samples.length / FRAME_SAMPLES);
  const padded = new Int16Array(frames * FRAME_SAMPLES);
  padded.set(samples);
  const mulaw = alawmulaw.mulaw.encode(padded);
  const payloads: string[] = [];
  const silent: boolean[] = [];
  let lastVoicedFrame = -1;
  for (let f = 0; f < frames; f++) {
    const from = f * FRAME_SAMPLES;
    payloads.push(Buffer.from(mulaw.buffer, mulaw.byteOffset + from, FRAME_SAMPLES).toString('base64'));
    let peak = 0;
    for (let i = from; i < from + FRAME_SAMPLES; i++) {
      const v = Math.abs(padded[i]!);
      if (v > peak) peak = v;
    }
    silent.push(peak <= silenceThreshold);
    if (peak > silenceThreshold) lastVoicedFrame = f;
  }
  return { payloads, silent, lastVoicedFrame, durationMs: frames * FRAME_MS };
}

/** Loads and frames each distinct source once (the same WAV said twice is encoded once). */
export class ClipCache {
  private readonly clips = new Map<AudioSource, CallerClip>();
  constructor(private readonly silenceThreshold = DEFAULT_SILENCE_THRESHOLD) {}

  get(source: AudioSource): CallerClip {
    let clip = this.clips.get(source);
    if (clip === undefined) {
      clip = makeClip(loadSamples(source), this.silenceThreshold);
      this.clips.set(source, clip);
    }
    return clip;
  }
}
