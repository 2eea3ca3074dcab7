// Owns the comfort audio a caller hears while the AI is away: soft noise (so
// the line does not sound dead) or a gentle hold tone. Precomputed once as
// μ-law 8 kHz frames and looped; no per-frame work beyond picking a frame.

import { mulawEncodeSample } from './mulaw.js';

const RATE = 8000;
const FRAME_SAMPLES = 160;

export type ComfortSound = 'noise' | 'tone';

const LOOPS = new Map<ComfortSound, Uint8Array[]>();

/** A loop of 20 ms μ-law frames. */
export class ComfortAudio {
  readonly #frames: Uint8Array[];
  #next = 0;

  constructor(sound: ComfortSound) {
    // The loops are deterministic and read-only: built once per process, shared by every call.
    let frames = LOOPS.get(sound);
    if (frames === undefined) LOOPS.set(sound, (frames = sound === 'noise' ? noiseLoop() : toneLoop()));
    this.#frames = frames;
  }

  nextFrame(): Uint8Array {
    const frame = this.#frames[this.#next]!;
    this.#next = (this.#next + 1) % this.#frames.length;
    return frame;
  }

  reset(): void {
    this.#next = 0;
  }
}

function toFrames(samples: Float64Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  for (let f = 0; f + FRAME_SAMPLES <= samples.length; f += FRAME_SAMPLES) {
    const frame = new Uint8Array(FRAME_SAMPLES);
    for (let i = 0; i < FRAME_SAMPLES; i++) frame[i] = mulawEncodeSample(Math.round(samples[f + i]!));
    frames.push(frame);
  }
  return frames;
}

/** 2 s of low-passed noise around -50 dBFS: audible as "line still open", not as hiss. */
function noiseLoop(): Uint8Array[] {
  const n = 2 * RATE;
  const out = new Float64Array(n);
  let seed = 0x2545f491;
  let low = 0;
  for (let i = 0; i < n; i++) {
    // xorshift32: deterministic, so every call sounds the same and tests can rely on it.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const white = (seed >>> 0) / 0xffffffff - 0.5;
    low += 0.15 * (white - low);
    out[i] = low * 900;
  }
  // Fade the loop's ends into each other so the seam does not click.
  const fade = 400;
  for (let i = 0; i < fade; i++) {
    const g = i / fade;
    out[i] = out[i]! * g + out[n - fade + i]! * (1 - g);
  }
  return toFrames(out.subarray(0, n - fade));
}

/** A soft 440 Hz beep of 200 ms every 3 s, at about -24 dBFS. */
function toneLoop(): Uint8Array[] {
  const n = 3 * RATE;
  const out = new Float64Array(n);
  const beep = 0.2 * RATE;
  const ramp = 80;
  for (let i = 0; i < beep; i++) {
    const envelope = Math.min(1, i / ramp, (beep - i) / ramp);
    out[i] = 2000 * envelope * Math.sin((2 * Math.PI * 440 * i) / RATE);
  }
  return toFrames(out);
}
