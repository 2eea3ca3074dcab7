// Owns the bookkeeping of conversational turns and the `turn` / `barge_in`
// spans they produce. Fed by the call state machine with plain events (speech
// started/stopped, audio sent, interrupted, playback done, response.done) and
// a clock, so it is testable with a fake clock and no sockets. Never reads
// audio, transcripts or any text the caller said.

import { SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { ATTR, EVENT, SPAN } from './attributes.js';

/** Epoch milliseconds (fractions allowed). */
export type Clock = () => number;

/** The subset of a GA `response.done` event's `response` object that telemetry reads. */
export interface ResponseDoneInfo {
  readonly id?: string;
  readonly status?: string;
  readonly usage?: { readonly input_tokens?: number; readonly output_tokens?: number } | null;
}

export interface TurnTotals {
  turns: number;
  interrupted: number;
  inputTokens: number;
  outputTokens: number;
}

interface Turn {
  readonly span: Span;
  readonly index: number;
  speechStoppedAt: number | undefined;
  firstAudioAt: number | undefined;
  /** A response was created or audio went out: a response.done will follow. */
  expectsResponse: boolean;
  responseDone: boolean;
  /** The assistant side is over: interrupted, played out, or superseded by the caller. */
  assistantDone: boolean;
}

/** Turns kept open only while their response.done is still due; more than this is a bug upstream. */
const MAX_PENDING = 4;

export class TurnTracker {
  private current: Turn | undefined;
  /** Turns whose assistant side is over but whose response.done has not arrived, oldest first. */
  private readonly pending: Turn[] = [];
  private nextIndex = 1;
  readonly totals: TurnTotals = { turns: 0, interrupted: 0, inputTokens: 0, outputTokens: 0 };

  constructor(
    private readonly tracer: Tracer,
    private readonly parent: Context,
    private readonly clock: Clock,
    /** Attributes every turn span carries (gen_ai provider, operation, model). */
    private readonly baseAttributes: Readonly<Record<string, string>>,
    /** Called with each turn's latency in ms (feeds the latency histogram). */
    private readonly onLatency: (ms: number) => void = () => {},
  ) {}

  /**
   * Input-side VAD: the caller started speaking. Opens a new turn; the
   * previous one (if any) is superseded. When this speech cuts the assistant
   * off, pass `bargeIn` (or call interrupted() first): once superseded, a
   * turn whose response is done is closed and can no longer be marked.
   */
  speechStarted(bargeIn?: { readonly heardMs: number }): void {
    if (bargeIn !== undefined) this.interrupted(bargeIn.heardMs);
    const now = this.clock();
    this.supersede(now);
    this.open(now);
  }

  /** Input-side VAD: the caller stopped speaking. This is the start of the latency clock. */
  speechStopped(): void {
    const now = this.clock();
    const turn = this.current ?? this.open(now);
    turn.speechStoppedAt = now;
    turn.span.addEvent(EVENT.speechStopped, now);
  }

  /** response.created: a reply is on its way for the current turn. */
  responseCreated(): void {
    const turn = this.current ?? this.open(this.clock());
    turn.expectsResponse = true;
  }

  /**
   * Hot path: call for every assistant audio chunk sent to Twilio. Only the
   * first one per turn does work (records the latency); the rest are a field check.
   */
  audioSent(): void {
    const turn = this.current;
    if (turn !== undefined && turn.firstAudioAt !== undefined) return;
    const now = this.clock();
    // Audio with no open turn is the assistant speaking first (a greeting).
    const t = turn ?? this.open(now);
    t.firstAudioAt = now;
    t.expectsResponse = true;
    if (t.speechStoppedAt !== undefined) {
      const latency = Math.max(0, Math.round(now - t.speechStoppedAt));
      t.span.setAttribute(ATTR.turnLatencyMs, latency);
      t.span.addEvent(EVENT.firstAudio, { [ATTR.turnLatencyMs]: latency }, now);
      this.onLatency(latency);
    } else {
      t.span.addEvent(EVENT.firstAudio, now);
    }
  }

  /**
   * The caller talked over the assistant. `heardMs` is the assistant audio the
   * caller actually heard (acknowledged marks), as sent in the truncate.
   * `startedAt` is when the barge-in was detected (defaults to now); the
   * barge-in span runs from there to this call (clear + truncate sent).
   * Call it before speechStarted() for the interrupting speech, or use
   * speechStarted({ heardMs }). Ignored when no assistant audio is out.
   */
  interrupted(heardMs: number, startedAt?: number): void {
    const now = this.clock();
    const turn = this.current;
    if (turn === undefined || turn.firstAudioAt === undefined) return;
    const heard = Math.max(0, Math.round(heardMs));
    const bargeIn = this.tracer.startSpan(
      SPAN.bargeIn,
      { startTime: startedAt ?? now, attributes: { [ATTR.turnIndex]: turn.index, [ATTR.turnHeardMs]: heard } },
      trace.setSpan(this.parent, turn.span),
    );
    bargeIn.end(now);
    turn.span.setAttributes({ [ATTR.turnInterrupted]: true, [ATTR.turnHeardMs]: heard });
    turn.span.addEvent(EVENT.interrupted, { [ATTR.turnHeardMs]: heard }, startedAt ?? now);
    this.totals.interrupted++;
    turn.assistantDone = true;
    this.current = undefined;
    this.settle(turn, now);
  }

  /** The last assistant audio of the turn has played (its final mark came back). */
  playbackDone(): void {
    const turn = this.current;
    if (turn === undefined) return;
    turn.assistantDone = true;
    this.current = undefined;
    this.settle(turn, this.clock());
  }

  /** response.done: usage and status for the oldest turn still waiting for one. */
  responseDone(response: ResponseDoneInfo): void {
    const now = this.clock();
    const turn = this.pending.find((t) => t.expectsResponse && !t.responseDone) ?? (this.current?.expectsResponse ? this.current : undefined);
    if (turn === undefined) return;
    turn.responseDone = true;
    const input = response.usage?.input_tokens;
    const output = response.usage?.output_tokens;
    if (response.id !== undefined) turn.span.setAttribute(ATTR.genAiResponseId, response.id);
    if (response.status !== undefined) turn.span.setAttribute(ATTR.responseStatus, response.status);
    if (typeof input === 'number') {
      turn.span.setAttribute(ATTR.genAiInputTokens, input);
      this.totals.inputTokens += input;
    }
    if (typeof output === 'number') {
      turn.span.setAttribute(ATTR.genAiOutputTokens, output);
      this.totals.outputTokens += output;
    }
    if (response.status === 'failed') turn.span.setStatus({ code: SpanStatusCode.ERROR, message: 'response failed' });
    if (turn !== this.current) this.settle(turn, now);
  }

  /** Call end: every open turn ends now, whatever it was waiting for. */
  end(): void {
    const now = this.clock();
    if (this.current) this.finish(this.current, now);
    this.current = undefined;
    for (const t of this.pending.splice(0)) this.finish(t, now);
  }

  private open(now: number): Turn {
    const index = this.nextIndex++;
    const span = this.tracer.startSpan(
      SPAN.turn,
      { startTime: now, attributes: { ...this.baseAttributes, [ATTR.turnIndex]: index, [ATTR.turnInterrupted]: false } },
      this.parent,
    );
    const turn: Turn = { span, index, speechStoppedAt: undefined, firstAudioAt: undefined, expectsResponse: false, responseDone: false, assistantDone: false };
    this.current = turn;
    this.totals.turns++;
    return turn;
  }

  private supersede(now: number): void {
    const turn = this.current;
    if (turn === undefined) return;
    turn.assistantDone = true;
    this.current = undefined;
    this.settle(turn, now);
  }

  /** Ends the turn if nothing is still due for it, otherwise parks it until response.done. */
  private settle(turn: Turn, now: number): void {
    const idx = this.pending.indexOf(turn);
    const done = turn.assistantDone && (turn.responseDone || !turn.expectsResponse);
    if (done) {
      if (idx >= 0) this.pending.splice(idx, 1);
      this.finish(turn, now);
      return;
    }
    if (idx < 0 && turn.assistantDone) {
      this.pending.push(turn);
      // A lost response.done must not keep spans open for the rest of the call.
      while (this.pending.length > MAX_PENDING) this.finish(this.pending.shift() as Turn, now);
    }
  }

  private finish(turn: Turn, now: number): void {
    turn.span.end(now);
  }
}
