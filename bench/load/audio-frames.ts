// Bench-only: the audio the load generator sends, framed and base64-encoded
// once at start-up so the per-frame path only picks a string. Caller frames
// are 20 ms of μ-law 8 kHz speech (on a DC offset, see offsetSpeech); reply deltas are 20 ms (or, for bursts,
// 160 ms) of assistant speech in the session's output format (PCM16 24 kHz or μ-law 8 kHz).

import { readWav } from '../../src/audio/wav.js';
import { MULAW_ENCODE_TABLE } from '../../src/audio/mulaw.js';

const root = new URL('../../', import.meta.url);

function mulawFrames(samples: Int16Array, count: number, framesPerDelta = 1): string[] {
  const out: string[] = [];
  const bytes = 160 * framesPerDelta;
  const frames = Math.min(count, Math.floor(samples.length / bytes));
  for (let f = 0; f < frames; f++) {
    const m = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) m[i] = MULAW_ENCODE_TABLE[samples[bytes * f + i]! & 0xffff]!;
    out.push(m.toString('base64'));
  }
  return out;
}

/**
 * The caller's speech riding on a DC offset, so no caller sample is ever
 * zero: the generator can then tell the silence the bridge inserts on its own
 * (digital zeros) from caller audio by content. The bridge runs no VAD and
 * its transcoding cost does not depend on what the samples are.
 */
function offsetSpeech(samples: Int16Array): Int16Array {
  let peak = 1;
  for (const s of samples) peak = Math.max(peak, Math.abs(s));
  const scale = Math.min(0.25, 5000 / peak);
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.round(samples[i]! * scale) + 6000;
  return out;
}

function pcm24kFrames(samples: Int16Array, count: number, framesPerDelta = 1): string[] {
  const out: string[] = [];
  const n = 480 * framesPerDelta;
  const frames = Math.min(count, Math.floor(samples.length / n));
  for (let f = 0; f < frames; f++) {
    const p = Buffer.alloc(2 * n);
    for (let i = 0; i < n; i++) p.writeInt16LE(samples[n * f + i]!, 2 * i);
    out.push(p.toString('base64'));
  }
  return out;
}

export interface LoadAudio {
  /** 20 ms caller frames, base64 μ-law: 60 s of speech on a DC offset (never a zero sample). */
  readonly caller: readonly string[];
  /** Base64 character that a run of silence encodes to in the appends the bridge sends: 'A' (PCM16 zeros) or '/' (μ-law 0xFF). */
  readonly silenceChar: number;
  /** Length of the base64 audio in one append carrying one 20 ms caller frame. */
  readonly appendAudioChars: number;
  /** 20 ms reply deltas, base64, in the session's output format. */
  readonly reply: readonly string[];
  /** Reply deltas of BURST_DELTA_FRAMES frames (160 ms) each, for replies streamed faster than real time. */
  readonly replyBurst: readonly string[];
}

/** Frames per delta when replies come in bursts, as the service streams them (the local peer sends 150 ms deltas). */
export const BURST_DELTA_FRAMES = 8;

export function loadAudio(mode: 'pcm24k' | 'pcmu'): LoadAudio {
  const speech8k = readWav(new URL('fixtures/speech-60s-8k.wav', root).pathname).samples;
  const speech24k = readWav(new URL('fixtures/speech-60s-24k.wav', root).pathname).samples;
  const caller = mulawFrames(offsetSpeech(speech8k), 3000);
  // Replies: a different stretch of speech than the caller's, 10 s, cycled.
  const replyFrames = (framesPerDelta: number): string[] =>
    mode === 'pcm24k'
      ? pcm24kFrames(speech24k.subarray(24000 * 30), 500 / framesPerDelta, framesPerDelta)
      : mulawFrames(speech8k.subarray(8000 * 30), 500 / framesPerDelta, framesPerDelta);
  const reply = replyFrames(1);
  const replyBurst = replyFrames(BURST_DELTA_FRAMES);
  return { caller, reply, replyBurst, silenceChar: mode === 'pcm24k' ? 0x41 : 0x2f, appendAudioChars: mode === 'pcm24k' ? 1280 : 216 };
}
