// Owns the peer's voice activity detection: a pure energy VAD over PCM16
// samples, driven by the session's `server_vad` parameters. No sockets, no
// timers, no wall clock: time is the amount of audio fed in, which is also
// what the real service's audio_start_ms / audio_end_ms count.

export interface VadParams {
  /** 0..1 as in `turn_detection.threshold`; mapped to an energy level by thresholdToDbfs. */
  readonly threshold: number;
  readonly prefixPaddingMs: number;
  readonly silenceDurationMs: number;
  /** Speech must stay above threshold this long before speech_started fires; rejects clicks. */
  readonly minSpeechMs: number;
}

export type VadEvent =
  | { readonly type: 'speechStarted'; readonly audioStartMs: number }
  | { readonly type: 'speechStopped'; readonly audioEndMs: number };

export const DEFAULT_VAD_PARAMS: VadParams = Object.freeze({
  threshold: 0.5,
  prefixPaddingMs: 300,
  silenceDurationMs: 500,
  minSpeechMs: 60,
});

/** Analysis frame length. 10 ms is short enough for 20 ms telephony frames and cheap. */
export const VAD_FRAME_MS = 10;

/**
 * Maps the API's unitless 0..1 threshold to a frame RMS level in dBFS:
 * 0 → -70 dBFS (anything above line noise), 0.5 → -45 dBFS (quiet speech
 * still counts, digital silence and hiss do not), 1 → -20 dBFS (only loud
 * speech). Linear in dB because loudness perception is.
 */
export function thresholdToDbfs(threshold: number): number {
  const t = Math.min(1, Math.max(0, threshold));
  return -70 + 50 * t;
}

/** RMS level of PCM16 samples in dBFS; -Infinity for digital silence. */
export function frameDbfs(samples: Int16Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) {
    const v = samples[i]! / 32768;
    sum += v * v;
  }
  const n = end - start;
  return n === 0 ? -Infinity : 10 * Math.log10(sum / n);
}

/**
 * Streaming energy VAD. Feed it audio as it arrives; it returns the turn
 * boundaries found. Audio is buffered to whole 10 ms frames across calls so
 * the result does not depend on how the client chunked its appends.
 */
export class EnergyVad {
  private params: VadParams;
  private sampleRate: number;
  private carry: Int16Array = new Int16Array(0);
  /** Milliseconds of audio analysed so far; advances in whole frames. */
  private elapsedMs = 0;
  private speaking = false;
  private aboveMs = 0;
  private aboveStartMs = 0;
  private silenceMs = 0;

  constructor(params: VadParams, sampleRate: number) {
    this.params = params;
    this.sampleRate = sampleRate;
  }

  get isSpeaking(): boolean {
    return this.speaking;
  }

  /** Milliseconds of audio analysed so far (whole frames only). */
  get positionMs(): number {
    return this.elapsedMs;
  }

  /** New parameters apply from the next frame; a changed rate drops the partial frame (the format changed mid-stream). */
  configure(params: VadParams, sampleRate: number): void {
    this.params = params;
    if (sampleRate !== this.sampleRate) {
      this.sampleRate = sampleRate;
      this.carry = new Int16Array(0);
    }
  }

  /** Forgets any turn in progress (input_audio_buffer.clear, turn detection switched off). Time keeps running. */
  resetTurn(): void {
    this.speaking = false;
    this.aboveMs = 0;
    this.silenceMs = 0;
  }

  feed(samples: Int16Array): VadEvent[] {
    const frameLen = Math.round((this.sampleRate * VAD_FRAME_MS) / 1000);
    let input = samples;
    if (this.carry.length > 0) {
      input = new Int16Array(this.carry.length + samples.length);
      input.set(this.carry, 0);
      input.set(samples, this.carry.length);
    }
    const events: VadEvent[] = [];
    const startDb = thresholdToDbfs(this.params.threshold);
    // 6 dB of hysteresis: a word tailing off should not end the turn early.
    const stopDb = startDb - 6;
    let offset = 0;
    for (; offset + frameLen <= input.length; offset += frameLen) {
      const db = frameDbfs(input, offset, offset + frameLen);
      const frameStartMs = this.elapsedMs;
      this.elapsedMs += VAD_FRAME_MS;
      if (!this.speaking) {
        if (db >= startDb) {
          if (this.aboveMs === 0) this.aboveStartMs = frameStartMs;
          this.aboveMs += VAD_FRAME_MS;
          if (this.aboveMs >= this.params.minSpeechMs) {
            this.speaking = true;
            this.silenceMs = 0;
            // Like the real service, the reported start includes the prefix padding.
            events.push({ type: 'speechStarted', audioStartMs: Math.max(0, this.aboveStartMs - this.params.prefixPaddingMs) });
          }
        } else {
          this.aboveMs = 0;
        }
      } else if (db < stopDb) {
        this.silenceMs += VAD_FRAME_MS;
        if (this.silenceMs >= this.params.silenceDurationMs) {
          this.speaking = false;
          this.aboveMs = 0;
          this.silenceMs = 0;
          // Like the real service, the reported end includes the silence that confirmed it.
          events.push({ type: 'speechStopped', audioEndMs: this.elapsedMs });
        }
      } else {
        this.silenceMs = 0;
      }
    }
    this.carry = offset < input.length ? input.slice(offset) : new Int16Array(0);
    return events;
  }
}
