// Bench-only: the audio the load generator sends, framed and base64-encoded
// once at start-up so the per-frame path only picks a string. Caller frames
// are 20 ms of μ-law 8 kHz speech; reply deltas are 20 ms of assistant speech
// in the session's output format (PCM16 24 kHz or μ-law 8 kHz).

import { readWav } from '../../src/audio/wav.js';
import { MULAW_ENCODE_TABLE } from '../../src/audio/mulaw.js';

const root = new URL('../../', import.meta.url);

function mulawFrames(samples: Int16Array, count: number): string[] {
  const out: string[] = [];
  const frames = Math.min(count, Math.floor(samples.length / 160));
  for (let f = 0; f < frames; f++) {
    const m = Buffer.alloc(160);
    for (let i = 0; i < 160; i++) m[i] = MULAW_ENCODE_TABLE[samples[160 * f + i]! & 0xffff]!;
    out.push(m.toString('base64'));
  }
  return out;
}

function pcm24kFrames(samples: Int16Array, count: number): string[] {
  const out: string[] = [];
  const frames = Math.min(count, Math.floor(samples.length / 480));
  for (let f = 0; f < frames; f++) {
    const p = Buffer.alloc(960);
    for (let i = 0; i < 480; i++) p.writeInt16LE(samples[480 * f + i]!, 2 * i);
    out.push(p.toString('base64'));
  }
  return out;
}

export interface LoadAudio {
  /** 20 ms caller frames, base64 μ-law (60 s of speech). */
  readonly caller: readonly string[];
  /** 20 ms reply deltas, base64, in the session's output format. */
  readonly reply: readonly string[];
}

export function loadAudio(mode: 'pcm24k' | 'pcmu'): LoadAudio {
  const speech8k = readWav(new URL('fixtures/speech-60s-8k.wav', root).pathname).samples;
  const speech24k = readWav(new URL('fixtures/speech-60s-24k.wav', root).pathname).samples;
  const caller = mulawFrames(speech8k, 3000);
  // Replies: a different stretch of speech than the caller's, 10 s, cycled.
  const reply = mode === 'pcm24k' ? pcm24kFrames(speech24k.subarray(24000 * 30), 500) : mulawFrames(speech8k.subarray(8000 * 30), 500);
  return { caller, reply };
}
