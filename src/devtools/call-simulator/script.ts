// Owns the caller's behaviour: a call script (say, silence, wait for the
// assistant, barge in, DTMF, hang up) turned into one decision per 20 ms
// frame slot. Pure: it sees the assistant only through `AssistantView` and
// time only through the arguments, so a shared clock can drive many calls
// and tests can drive it by hand. Between spoken parts the caller sends
// silence frames, like a real phone line.

import { FRAME_MS, SILENT_PAYLOAD, type AudioSource, type CallerClip, type ClipCache } from './caller-audio.js';

export type CallStep =
  /** Speak a WAV (8 kHz mono PCM16) or samples, frame by frame. */
  | { readonly say: AudioSource; readonly bargeIn?: undefined }
  /** Send silence for this long. */
  | { readonly silenceMs: number }
  /**
   * Send silence until the caller hears assistant audio ('assistantAudio') or
   * has heard some and it has then stayed quiet for `idleMs` ('assistantDone'),
   * counting from the end of the caller's last speech. Gives up after
   * `timeoutMs` (recorded in the report) and goes on with the next step.
   */
  | { readonly waitFor: 'assistantAudio' | 'assistantDone'; readonly timeoutMs?: number; readonly idleMs?: number }
  /** Wait until `bargeIn` ms of assistant audio were heard, then say `say` over it. */
  | { readonly bargeIn: number; readonly say: AudioSource; readonly timeoutMs?: number }
  /** Key presses, one dtmf event per digit, one frame apart. */
  | { readonly dtmf: string }
  /** Hang up now (stop + close). The end of the script hangs up too. */
  | { readonly hangup: true };

export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_MS = 600;

/** What the script may know about the assistant: what the caller has heard. */
export interface AssistantView {
  isPlaying(atMs: number): boolean;
  heardMsSince(fromMs: number, atMs: number): number;
  readonly lastAudioEndMs: number;
}

export interface FrameDecision {
  /** Base64 μ-law payload for this frame slot. */
  readonly payload: string;
  readonly silent: boolean;
  /** DTMF digits to send with this frame. */
  readonly dtmf: readonly string[];
  /** The script is over: send stop instead of this frame. */
  readonly hangup: boolean;
}

export interface SpeechSegment {
  readonly stepIndex: number;
  readonly bargeIn: boolean;
  /** Stream time the first frame of the clip covers. */
  readonly startMs: number;
  /** Stream time the clip's last frame ends. */
  endMs: number;
  /** Stream time its last non-silent frame ends: when the caller "stopped speaking". */
  voiceEndMs: number;
}

export interface ScriptTimeout {
  readonly stepIndex: number;
  readonly step: string;
  readonly atMs: number;
}

const SILENCE: FrameDecision = Object.freeze({ payload: SILENT_PAYLOAD, silent: true, dtmf: [], hangup: false });
const HANGUP: FrameDecision = Object.freeze({ payload: SILENT_PAYLOAD, silent: true, dtmf: [], hangup: true });

export function describeStep(step: CallStep): string {
  if ('bargeIn' in step && step.bargeIn !== undefined) return `bargeIn after ${step.bargeIn} ms`;
  if ('say' in step) return typeof step.say === 'string' ? `say ${step.say}` : `say ${step.say.length} samples`;
  if ('silenceMs' in step) return `silence ${step.silenceMs} ms`;
  if ('waitFor' in step) return `waitFor ${step.waitFor}`;
  if ('dtmf' in step) return `dtmf ${step.dtmf}`;
  return 'hangup';
}

export class CallScript {
  private index = 0;
  private stepStartMs = 0;
  private frameInStep = 0;
  private entered = false;
  private clip: CallerClip | undefined;
  private lastSpeechEndMs = 0;

  readonly segments: SpeechSegment[] = [];
  readonly timeouts: ScriptTimeout[] = [];

  /** Clips are loaded up front so a missing WAV fails before the call is placed. */
  constructor(
    private readonly steps: readonly CallStep[],
    private readonly clips: ClipCache,
  ) {
    for (const step of steps) if ('say' in step) clips.get(step.say);
  }

  get finished(): boolean {
    return this.index >= this.steps.length;
  }

  /**
   * Decides frame slot [frameStartMs, frameStartMs + 20): called when the slot
   * is due, i.e. at frameStartMs + 20 on the stream clock, which is the time
   * the assistant view is queried at.
   */
  nextFrame(frameStartMs: number, assistant: AssistantView): FrameDecision {
    const atMs = frameStartMs + FRAME_MS;
    // Zero-time steps (dtmf, satisfied waits) fall through; bounded by the step count.
    for (let guard = 0; guard <= this.steps.length; guard++) {
      const step = this.steps[this.index];
      if (step === undefined) return HANGUP;
      if (!this.entered) {
        this.entered = true;
        this.stepStartMs = frameStartMs;
        this.frameInStep = 0;
        this.clip = undefined;
      }

      if ('bargeIn' in step && step.bargeIn !== undefined) {
        if (this.clip === undefined) {
          if (assistant.heardMsSince(this.lastSpeechEndMs, atMs) >= step.bargeIn) {
            this.clip = this.clips.get(step.say);
            // The wait is over; the clip starts in this very slot.
            this.frameInStep = 0;
          } else if (this.timedOut(step.timeoutMs, atMs, step)) {
            continue;
          } else {
            return SILENCE;
          }
        }
        return this.speak(frameStartMs, this.clip, true);
      }
      if ('say' in step) {
        this.clip ??= this.clips.get(step.say);
        return this.speak(frameStartMs, this.clip, false);
      }
      if ('silenceMs' in step) {
        if (this.frameInStep * FRAME_MS >= step.silenceMs) {
          this.next();
          continue;
        }
        this.frameInStep++;
        return SILENCE;
      }
      if ('waitFor' in step) {
        const heard = assistant.heardMsSince(this.lastSpeechEndMs, atMs) > 0;
        const done =
          step.waitFor === 'assistantAudio'
            ? heard
            : heard && !assistant.isPlaying(atMs) && atMs - assistant.lastAudioEndMs >= (step.idleMs ?? DEFAULT_IDLE_MS);
        if (done) {
          this.next();
          continue;
        }
        if (this.timedOut(step.timeoutMs, atMs, step)) continue;
        return SILENCE;
      }
      if ('dtmf' in step) {
        // One digit per frame slot, like separate key presses.
        const digit = step.dtmf[this.frameInStep];
        if (digit === undefined) {
          this.next();
          continue;
        }
        this.frameInStep++;
        return { ...SILENCE, dtmf: [digit] };
      }
      return HANGUP;
    }
    return SILENCE;
  }

  private speak(frameStartMs: number, clip: CallerClip, bargeIn: boolean): FrameDecision {
    const f = this.frameInStep++;
    if (f === 0) {
      this.segments.push({ stepIndex: this.index, bargeIn, startMs: frameStartMs, endMs: frameStartMs, voiceEndMs: frameStartMs });
    }
    const seg = this.segments[this.segments.length - 1]!;
    seg.endMs = frameStartMs + FRAME_MS;
    if (f <= clip.lastVoicedFrame) seg.voiceEndMs = seg.endMs;
    if (f + 1 >= clip.payloads.length) {
      this.lastSpeechEndMs = seg.voiceEndMs;
      this.next();
    }
    return { payload: clip.payloads[f] ?? SILENT_PAYLOAD, silent: clip.silent[f] ?? true, dtmf: [], hangup: false };
  }

  private timedOut(timeoutMs: number | undefined, atMs: number, step: CallStep): boolean {
    if (atMs - this.stepStartMs < (timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS)) return false;
    this.timeouts.push({ stepIndex: this.index, step: describeStep(step), atMs });
    this.next();
    return true;
  }

  private next(): void {
    this.index++;
    this.entered = false;
  }
}
