// Owns the shape of a call's trace: the root span from webhook to stream end,
// the carry of its context inside the stream ticket (W3C traceparent, so the
// stream may land on another process), and typed helpers for every child
// span the issue names. Optionally feeds the matching BridgeMetrics so one
// call records both signals. Never puts a token, signature, ticket, phone
// number or transcript into a span.

import { SpanKind, SpanStatusCode, context, trace, ROOT_CONTEXT, type Attributes, type Context, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  ATTR,
  EVENT,
  GEN_AI_OPERATION_CHAT,
  GEN_AI_PROVIDER_OPENAI,
  SCOPE_NAME,
  SPAN,
  type AuthOutcome,
  type AuthSurface,
  type CallOutcome,
  type FallbackAction,
  type PhaseOutcome,
  type UpstreamOutcome,
} from './attributes.js';
import type { BridgeMetrics } from './metrics.js';
import { TurnTracker, type Clock } from './turns.js';

export type { Clock, ResponseDoneInfo } from './turns.js';
export { TurnTracker } from './turns.js';

/** Wall clock in epoch ms with sub-millisecond resolution, monotonic within the process. */
export const systemClock: Clock = () => performance.timeOrigin + performance.now();

export interface CallTracerOptions {
  /** Defaults to the global tracer (a no-op until the preload starts the SDK). */
  readonly tracer?: Tracer;
  readonly clock?: Clock;
  /** When given, spans also record the matching metrics (see the README's table). */
  readonly metrics?: BridgeMetrics;
  /** Realtime model, for gen_ai.request.model. */
  readonly model?: string;
  /**
   * How long a root span started here waits for its stream before ending by
   * itself (the stream went to another process or never came). Ticket TTL
   * plus a margin; default 75 s.
   */
  readonly rootTimeoutMs?: number;
}

/** Minimal completed/failed handle for a span with one outcome. */
export class SpanOperation {
  private ended = false;
  constructor(protected readonly span: Span, protected readonly clock: Clock) {}

  get spanContext(): SpanContext {
    return this.span.spanContext();
  }

  /** Success; optional extra attributes (e.g. http.response.status_code). */
  ok(attributes?: Attributes): void {
    if (this.ended) return;
    if (attributes) this.span.setAttributes(attributes);
    this.span.setAttribute(ATTR.outcome, 'ok');
    this.finish();
  }

  /** Given up by our side before it finished (the call ended): no error status, since nothing failed. */
  abandoned(): void {
    if (this.ended) return;
    this.span.setAttribute(ATTR.outcome, 'abandoned');
    this.finish();
  }

  /** Failure with a low-cardinality error type (e.g. `http_401`, `timeout`, `twilio_20404`). */
  fail(errorType: string, attributes?: Attributes): void {
    if (this.ended) return;
    if (attributes) this.span.setAttributes(attributes);
    this.span.setAttributes({ [ATTR.outcome]: 'failed', [ATTR.errorType]: errorType });
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    this.finish();
  }

  protected finish(): void {
    this.ended = true;
    this.span.end(this.clock());
  }
}

export interface ConnectFailure {
  readonly outcome: Exclude<UpstreamOutcome, 'ok' | 'abandoned'>;
  readonly closeCode?: number;
  readonly closeReason?: string;
  readonly httpStatus?: number;
}

/** One upstream connect attempt: from dialling to session ready, or to failure. */
export class ConnectAttempt {
  private ended = false;
  constructor(private readonly span: Span, private readonly clock: Clock, private readonly metrics: BridgeMetrics | undefined) {}

  /** The session is ready (session.created / session.updated received). */
  ready(): void {
    if (this.ended) return;
    this.span.setAttribute(ATTR.upstreamOutcome, 'ok');
    this.end('ok');
  }

  /** The call ended first: the span ends without an error status, since the AI service did nothing wrong. */
  abandoned(): void {
    if (this.ended) return;
    this.span.setAttribute(ATTR.upstreamOutcome, 'abandoned');
    this.end('abandoned');
  }

  failed(failure: ConnectFailure): void {
    if (this.ended) return;
    const attrs: Attributes = { [ATTR.upstreamOutcome]: failure.outcome, [ATTR.errorType]: failure.outcome };
    if (failure.closeCode !== undefined) attrs[ATTR.upstreamCloseCode] = failure.closeCode;
    if (failure.closeReason !== undefined) attrs[ATTR.upstreamCloseReason] = failure.closeReason.slice(0, 120);
    if (failure.httpStatus !== undefined) attrs[ATTR.httpStatus] = failure.httpStatus;
    this.span.setAttributes(attrs);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: failure.outcome });
    this.end(failure.outcome);
  }

  private end(outcome: UpstreamOutcome): void {
    this.ended = true;
    this.metrics?.upstreamConnect(outcome);
    this.span.end(this.clock());
  }
}

/** A reconnect or rollover: it spans its connect attempts. */
export class UpstreamPhase {
  private ended = false;
  private attempts = 0;
  constructor(
    private readonly span: Span,
    private readonly parent: Context,
    private readonly stream: StreamTrace,
    private readonly clock: Clock,
    private readonly record: ((outcome: PhaseOutcome) => void) | undefined,
  ) {}

  /** A connect attempt inside this phase; `attempt` numbers count across the whole call. */
  connectAttempt(attempt: number): ConnectAttempt {
    this.attempts++;
    return this.stream.connectAttemptUnder(attempt, trace.setSpan(this.parent, this.span));
  }

  end(outcome: PhaseOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.span.setAttributes({ [ATTR.outcome]: outcome, [ATTR.attempts]: this.attempts });
    if (outcome !== 'ok') this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    this.record?.(outcome);
    this.span.end(this.clock());
  }
}

interface LiveRoot {
  readonly span: Span;
  readonly timer: NodeJS.Timeout;
}

/** The root `call` span as the webhook sees it. */
export class CallRoot {
  /** W3C traceparent of the root, to put in the stream ticket; '' when tracing is off. */
  readonly carrier: string;
  readonly context: Context;
  constructor(private readonly span: Span, private readonly release: (outcome: CallOutcome) => void) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
    this.carrier = injectTraceparent(this.context);
  }

  get spanContext(): SpanContext {
    return this.span.spanContext();
  }

  /** For a webhook that will not be followed by a stream (rejected, fallback TwiML): ends the root now. */
  end(outcome: CallOutcome): void {
    this.release(outcome);
  }
}

/** The stream side of a call: the `call.stream` span and every child span helper. */
export class StreamTrace {
  readonly context: Context;
  readonly turns: TurnTracker;
  private ended = false;
  private readonly base: Attributes;

  constructor(
    private readonly span: Span,
    private readonly tracer: Tracer,
    private readonly clock: Clock,
    private readonly metrics: BridgeMetrics | undefined,
    model: string | undefined,
    private readonly onEnd: (outcome: CallOutcome, endTime: number) => void,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
    const genAi: Record<string, string> = { [ATTR.genAiProvider]: GEN_AI_PROVIDER_OPENAI, [ATTR.genAiOperation]: GEN_AI_OPERATION_CHAT };
    if (model !== undefined) genAi[ATTR.genAiRequestModel] = model;
    this.base = genAi;
    this.turns = new TurnTracker(tracer, this.context, clock, genAi, (ms) => metrics?.turnLatency(ms));
  }

  get spanContext(): SpanContext {
    return this.span.spanContext();
  }

  /** Trace id for log lines and diagnostics ('' when tracing is off). */
  get traceId(): string {
    const sc = this.span.spanContext();
    return trace.isSpanContextValid(sc) ? sc.traceId : '';
  }

  /** Records the StreamSid once Twilio's `start` message names it. */
  setStreamSid(streamSid: string): void {
    this.span.setAttribute(ATTR.streamSid, streamSid);
  }

  /**
   * Binds a socket listener to this call's context, so spans started inside
   * it and pino lines written from it carry the call's trace ids (socket
   * callbacks otherwise run in the context of the upgrade request).
   */
  bind<F extends (...args: never[]) => unknown>(fn: F): F {
    return context.bind(this.context, fn);
  }

  /** Runs `fn` inside this call's context. */
  run<T>(fn: () => T): T {
    return context.with(this.context, fn);
  }

  /** The upgrade's signature + ticket check, recorded after the fact with its own times. */
  authChecked(result: { readonly outcome: AuthOutcome; readonly surface?: AuthSurface; readonly startTime: number; readonly endTime?: number }): void {
    const surface = result.surface ?? 'stream';
    const span = this.tracer.startSpan(
      SPAN.streamAuth,
      { startTime: result.startTime, attributes: { [ATTR.authSurface]: surface, [ATTR.authOutcome]: result.outcome } },
      this.context,
    );
    if (result.outcome !== 'ok') {
      span.setStatus({ code: SpanStatusCode.ERROR, message: result.outcome });
      this.metrics?.authFailure(surface, result.outcome);
    }
    span.end(result.endTime ?? this.clock());
  }

  /** Minting an `ek_` token. Never pass the token; only its TTL. */
  tokenMint(ttlSeconds: number): SpanOperation {
    const span = this.tracer.startSpan(
      SPAN.tokenMint,
      { kind: SpanKind.CLIENT, startTime: this.clock(), attributes: { ...this.base, [ATTR.tokenTtlS]: ttlSeconds } },
      this.context,
    );
    return new SpanOperation(span, this.clock);
  }

  /** A connect attempt outside any reconnect/rollover (the first one). */
  connectAttempt(attempt: number): ConnectAttempt {
    return this.connectAttemptUnder(attempt, this.context);
  }

  /** @internal used by UpstreamPhase to nest attempts. */
  connectAttemptUnder(attempt: number, parent: Context): ConnectAttempt {
    const span = this.tracer.startSpan(
      SPAN.upstreamConnect,
      { kind: SpanKind.CLIENT, startTime: this.clock(), attributes: { ...this.base, [ATTR.upstreamAttempt]: attempt } },
      parent,
    );
    return new ConnectAttempt(span, this.clock, this.metrics);
  }

  /** An established upstream session closed (the drop that may start a reconnect). */
  upstreamClosed(code: number, reason: string): void {
    this.span.addEvent(EVENT.upstreamClosed, { [ATTR.upstreamCloseCode]: code, [ATTR.upstreamCloseReason]: reason.slice(0, 120) }, this.clock());
  }

  /** The AI owed the caller a reply and gave none within `timeoutMs`: an event on the call, and the counter. */
  replyTimedOut(timeoutMs: number): void {
    this.span.addEvent(EVENT.replyTimeout, { [ATTR.replyTimeoutMs]: timeoutMs }, this.clock());
    this.metrics?.replyTimeout();
  }

  /** From a drop to a replacement session being ready. `reason` is a short code, e.g. `close_1006`. */
  reconnect(reason: string): UpstreamPhase {
    return this.phase(SPAN.reconnect, reason, (o) => this.metrics?.reconnect(o));
  }

  /** A planned session replacement before the cap. */
  rollover(reason: string): UpstreamPhase {
    return this.phase(SPAN.rollover, reason, (o) => this.metrics?.rollover(o));
  }

  /** Giving up on the AI: fallback TwiML, hang-up or transfer. */
  fallback(reason: string, action: FallbackAction): SpanOperation {
    const span = this.tracer.startSpan(
      SPAN.fallback,
      { startTime: this.clock(), attributes: { [ATTR.reason]: reason, [ATTR.fallbackAction]: action } },
      this.context,
    );
    return new SpanOperation(span, this.clock);
  }

  /** One Twilio REST request (e.g. `calls.update`). On failure pass `twilio_<code>` and the code attribute. */
  twilioRest(operation: string): SpanOperation {
    return startTwilioRest(this.tracer, this.clock, this.context, operation);
  }

  /** Ends open turns, the stream span and (when local) the root. Idempotent. */
  end(outcome: CallOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.turns.end();
    const totals = this.turns.totals;
    const now = this.clock();
    this.span.setAttributes({
      [ATTR.callOutcome]: outcome,
      [ATTR.genAiInputTokens]: totals.inputTokens,
      [ATTR.genAiOutputTokens]: totals.outputTokens,
    });
    if (outcome === 'error' || outcome === 'upstream_failed') this.span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    this.metrics?.callEnded(outcome);
    this.span.end(now);
    this.onEnd(outcome, now);
  }

  private phase(name: string, reason: string, record: (o: PhaseOutcome) => void): UpstreamPhase {
    const span = this.tracer.startSpan(name, { startTime: this.clock(), attributes: { [ATTR.reason]: reason } }, this.context);
    return new UpstreamPhase(span, this.context, this, this.clock, record);
  }
}

function startTwilioRest(tracer: Tracer, clock: Clock, parent: Context, operation: string): SpanOperation {
  const span = tracer.startSpan(
    SPAN.twilioRest,
    { kind: SpanKind.CLIENT, startTime: clock(), attributes: { [ATTR.twilioOperation]: operation, [ATTR.serverAddress]: 'api.twilio.com' } },
    parent,
  );
  return new SpanOperation(span, clock);
}

const propagator = new W3CTraceContextPropagator();

function injectTraceparent(ctx: Context): string {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
  return carrier.traceparent ?? '';
}

/** Restores a context from a ticket's traceparent; ROOT_CONTEXT when absent or malformed. */
export function extractTraceparent(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, {
    get: (c, k) => (c as Record<string, string>)[k],
    keys: (c) => Object.keys(c as object),
  });
}

/**
 * One per app. Starts call roots at the webhook, resumes them on the stream
 * side (same process: the very same root; another process: a child of the
 * carried context), and records auth rejections that happen before any call
 * is known.
 */
export class CallTracer {
  private readonly tracer: Tracer;
  private readonly clock: Clock;
  private readonly metrics: BridgeMetrics | undefined;
  private readonly model: string | undefined;
  private readonly rootTimeoutMs: number;
  /** Roots started here and not yet ended, by span id. */
  private readonly roots = new Map<string, LiveRoot>();

  constructor(options: CallTracerOptions = {}) {
    this.tracer = options.tracer ?? trace.getTracer(SCOPE_NAME);
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics;
    this.model = options.model;
    this.rootTimeoutMs = options.rootTimeoutMs ?? 75_000;
  }

  /** Roots waiting for their stream (for tests and drain diagnostics). */
  get liveRoots(): number {
    return this.roots.size;
  }

  /**
   * At the voice webhook, once its signature checked out. The root is a new
   * trace linked to the webhook's HTTP span (whatever is active), because the
   * HTTP span ends with the response while the call runs on.
   */
  startCall(init: { readonly callSid: string }): CallRoot {
    const active = trace.getSpanContext(context.active());
    const attributes: Attributes = { [ATTR.callSid]: init.callSid, [ATTR.genAiProvider]: GEN_AI_PROVIDER_OPENAI };
    if (this.model !== undefined) attributes[ATTR.genAiRequestModel] = this.model;
    const span = this.tracer.startSpan(
      SPAN.call,
      { kind: SpanKind.SERVER, root: true, startTime: this.clock(), attributes, links: active && trace.isSpanContextValid(active) ? [{ context: active }] : [] },
      ROOT_CONTEXT,
    );
    const id = span.spanContext().spanId;
    const recording = span.isRecording();
    const timer = setTimeout(() => this.endRoot(id, undefined, this.clock()), this.rootTimeoutMs);
    timer.unref();
    if (recording) this.roots.set(id, { span, timer });
    else clearTimeout(timer);
    return new CallRoot(span, (outcome) => {
      span.setAttribute(ATTR.callOutcome, outcome);
      this.endRoot(id, false, this.clock());
      if (!recording) span.end();
    });
  }

  /**
   * On the stream side, once the ticket is verified. `carrier` is the ticket's
   * traceparent (CallRoot.carrier at issue time). Counts the call as active
   * when metrics are attached; StreamTrace.end() counts it ended.
   */
  startStream(init: {
    readonly carrier: string | undefined;
    readonly callSid: string;
    readonly streamSid?: string;
    /** When the upgrade arrived (so the auth check recorded later fits inside); defaults to now. */
    readonly startTime?: number;
  }): StreamTrace {
    const parent = extractTraceparent(init.carrier);
    const parentId = trace.getSpanContext(parent)?.spanId;
    const local = parentId !== undefined ? this.roots.get(parentId) : undefined;
    if (local) clearTimeout(local.timer);
    const attributes: Attributes = { [ATTR.callSid]: init.callSid, [ATTR.streamLocal]: local !== undefined };
    if (init.streamSid !== undefined) attributes[ATTR.streamSid] = init.streamSid;
    const span = this.tracer.startSpan(
      SPAN.stream,
      { kind: SpanKind.SERVER, startTime: init.startTime ?? this.clock(), attributes },
      local ? trace.setSpan(ROOT_CONTEXT, local.span) : parent,
    );
    if (local) local.span.setAttribute(ATTR.streamLocal, true);
    this.metrics?.callStarted();
    return new StreamTrace(span, this.tracer, this.clock, this.metrics, this.model, (outcome, endTime) => {
      if (parentId === undefined || !local) return;
      local.span.setAttribute(ATTR.callOutcome, outcome);
      this.endRoot(parentId, true, endTime);
    });
  }

  /** An upgrade or webhook rejected before any call context exists; child of the active (HTTP) span. */
  authRejected(surface: AuthSurface, reason: Exclude<AuthOutcome, 'ok'>, startTime?: number): void {
    const span = this.tracer.startSpan(
      surface === 'stream' ? SPAN.streamAuth : `twilio.${surface}.auth`,
      { startTime: startTime ?? this.clock(), attributes: { [ATTR.authSurface]: surface, [ATTR.authOutcome]: reason } },
      context.active(),
    );
    span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    span.end(this.clock());
    this.metrics?.authFailure(surface, reason);
  }

  /** A Twilio REST request outside any stream (e.g. from a webhook handler). */
  twilioRest(operation: string, parent: Context = context.active()): SpanOperation {
    return startTwilioRest(this.tracer, this.clock, parent, operation);
  }

  /** Drain: ends every root still waiting for a stream. */
  close(): void {
    const now = this.clock();
    for (const id of [...this.roots.keys()]) this.endRoot(id, undefined, now);
  }

  private endRoot(id: string, streamLocal: boolean | undefined, endTime: number): void {
    const root = this.roots.get(id);
    if (!root) return;
    this.roots.delete(id);
    clearTimeout(root.timer);
    // undefined: the stream never showed up here (another process took it, or none came).
    if (streamLocal === undefined) root.span.setAttribute(ATTR.streamLocal, false);
    root.span.end(endTime);
  }
}
