// Owns the timing of one response's output: it slices the reply's encoded
// audio into deltas and releases them in bursts, faster than real time, the
// way the real service streams. It knows nothing about events or sockets; it
// calls back with audio chunks and transcript pieces, and can be stopped.

export interface Pacing {
  /** Audio per output_audio.delta, in ms. */
  readonly chunkMs: number;
  /** Deltas released together in one burst. */
  readonly deltasPerBurst: number;
  /** Gap between bursts, in ms. chunkMs * deltasPerBurst / burstIntervalMs is the speed-up over real time. */
  readonly burstIntervalMs: number;
  /** Delay between response.created and the first delta (model "thinking"). */
  readonly firstDeltaDelayMs: number;
}

export const DEFAULT_PACING: Pacing = Object.freeze({ chunkMs: 150, deltasPerBurst: 3, burstIntervalMs: 50, firstDeltaDelayMs: 120 });

export interface StreamSink {
  audio(chunk: Buffer): void;
  transcript(delta: string): void;
  finished(): void;
}

/** Splits a transcript into word-sized deltas (each keeps its leading space), as the service streams them. */
export function transcriptPieces(transcript: string): string[] {
  return transcript.match(/\s*\S+/g) ?? [];
}

export class ResponseStream {
  private timer: NodeJS.Timeout | null = null;
  private offset = 0;
  private piece = 0;
  private stopped = false;
  private readonly pieces: string[];
  private readonly chunkBytes: number;

  /** `bytesPerMs` converts chunkMs to bytes for the output format; chunk size is rounded to whole samples. */
  constructor(
    private readonly audio: Buffer,
    transcript: string,
    bytesPerMs: number,
    sampleBytes: number,
    private readonly pacing: Pacing,
    private readonly sink: StreamSink,
  ) {
    this.pieces = transcriptPieces(transcript);
    const raw = Math.max(sampleBytes, Math.round(bytesPerMs * pacing.chunkMs));
    this.chunkBytes = raw - (raw % sampleBytes);
  }

  start(): void {
    this.timer = setTimeout(() => this.burst(), this.pacing.firstDeltaDelayMs);
  }

  /** Stops releasing output; `finished` is not called. Idempotent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  get done(): boolean {
    return this.offset >= this.audio.length && this.piece >= this.pieces.length;
  }

  private burst(): void {
    this.timer = null;
    const totalChunks = Math.max(1, Math.ceil(this.audio.length / this.chunkBytes));
    for (let n = 0; n < this.pacing.deltasPerBurst && !this.stopped && !this.done; n++) {
      if (this.offset < this.audio.length) {
        const chunk = this.audio.subarray(this.offset, this.offset + this.chunkBytes);
        this.offset += chunk.length;
        this.sink.audio(chunk);
      }
      // Spread the words evenly over the audio so transcript and audio finish together.
      const sentChunks = Math.ceil(this.offset / this.chunkBytes);
      const wordsDue = this.audio.length === 0 ? this.pieces.length : Math.ceil((sentChunks / totalChunks) * this.pieces.length);
      while (!this.stopped && this.piece < Math.min(wordsDue, this.pieces.length)) this.sink.transcript(this.pieces[this.piece++]!);
    }
    if (this.stopped) return;
    if (this.done) {
      this.sink.finished();
      return;
    }
    this.timer = setTimeout(() => this.burst(), this.pacing.burstIntervalMs);
  }
}
