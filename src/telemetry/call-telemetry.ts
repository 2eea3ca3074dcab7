// Implements the call path's CallTelemetry over OpenTelemetry: one
// StreamTrace (the call's spans, turn tracking) plus the shared
// BridgeMetrics. Never records a token, signature, ticket or phone number.

import type { CallEndOutcome, CallTelemetry, Operation } from '../call/call-telemetry.js';
import type { AttemptObserver, ConnectAttempt as LinkAttempt, SessionKind } from '../upstream/realtime-link.js';
import type { CallOutcome, UpstreamOutcome } from './attributes.js';
import type { BridgeMetrics } from './metrics.js';
import type { StreamTrace, UpstreamPhase } from './tracing.js';

const OUTCOMES: Record<CallEndOutcome, CallOutcome> = {
  completed: 'completed',
  hung_up_by_agent: 'completed',
  twilio_closed: 'caller_hangup',
  fallback: 'fallback',
  rejected: 'rejected',
  idle_timeout: 'rejected',
  overloaded: 'error',
  error: 'error',
};

function upstreamOutcome(a: LinkAttempt): Exclude<UpstreamOutcome, 'ok' | 'abandoned'> {
  const f = a.failure;
  if (f?.timeout) return 'timeout';
  if (f?.httpStatus === 401 || f?.httpStatus === 403) return 'auth_failed';
  if (f?.httpStatus !== undefined) return 'rejected';
  if (f?.closeCode !== undefined) return a.outcome === 'fatal' ? 'auth_failed' : 'closed';
  return 'error';
}

export class OtelCallTelemetry implements CallTelemetry {
  #phase: UpstreamPhase | undefined;
  #phaseKind: 'reconnect' | 'session_age' | 'session_expired' | undefined;

  constructor(
    private readonly stream: StreamTrace,
    private readonly metrics: BridgeMetrics | undefined,
  ) {}

  streamStarted(streamSid: string): void {
    this.stream.setStreamSid(streamSid);
  }

  connectStarted(attempt: number): AttemptObserver {
    const span = this.#phase ? this.#phase.connectAttempt(attempt) : this.stream.connectAttempt(attempt);
    const stream = this.stream;
    return {
      tokenMint: (ttl) => stream.tokenMint(ttl),
      finished(a) {
        if (a.outcome === 'ok') span.ready();
        else if (a.outcome === 'abandoned') span.abandoned();
        else
          span.failed({
            outcome: upstreamOutcome(a),
            ...(a.failure?.closeCode !== undefined ? { closeCode: a.failure.closeCode } : {}),
            ...(a.failure?.closeReason !== undefined ? { closeReason: a.failure.closeReason } : {}),
            ...(a.failure?.httpStatus !== undefined ? { httpStatus: a.failure.httpStatus } : {}),
          });
      },
    };
  }

  upstreamLost(reason: string): void {
    // A planned rollover that loses the current session before switching has failed: it goes on as a reconnect.
    // After session_expired the service closes the old session at once: losing it is that rollover's course.
    if (this.#phaseKind === 'session_age') this.#endPhase('failed');
    if (this.#phase === undefined) {
      this.#phase = this.stream.reconnect(reason);
      this.#phaseKind = 'reconnect';
    }
  }

  replyTimedOut(timeoutMs: number): void {
    this.stream.replyTimedOut(timeoutMs);
  }

  rolloverStarted(reason: 'session_age' | 'session_expired'): void {
    if (this.#phase !== undefined) return;
    this.#phase = this.stream.rollover(reason);
    this.#phaseKind = reason;
  }

  sessionActive(_kind: SessionKind): void {
    this.#endPhase('ok');
  }

  #endPhase(outcome: 'ok' | 'failed' | 'gave_up'): void {
    this.#phase?.end(outcome);
    this.#phase = undefined;
    this.#phaseKind = undefined;
  }

  speechStarted(bargeInHeardMs?: number): void {
    this.stream.turns.speechStarted(bargeInHeardMs === undefined ? undefined : { heardMs: bargeInHeardMs });
  }

  speechStopped(): void {
    this.stream.turns.speechStopped();
  }

  responseCreated(): void {
    this.stream.turns.responseCreated();
  }

  audioSent(): void {
    this.stream.turns.audioSent();
  }

  responseDone(info: { id: string; status: string; inputTokens?: number; outputTokens?: number }): void {
    this.stream.turns.responseDone({
      id: info.id,
      status: info.status,
      usage: {
        ...(info.inputTokens === undefined ? {} : { input_tokens: info.inputTokens }),
        ...(info.outputTokens === undefined ? {} : { output_tokens: info.outputTokens }),
      },
    });
  }

  fallback(reason: string): Operation {
    this.#endPhase('gave_up');
    return this.stream.fallback(reason, 'twiml');
  }

  twilioRest(operation: string): Operation {
    return this.stream.twilioRest(operation);
  }

  framesIn(count: number): void {
    this.metrics?.framesInbound(count);
  }

  framesOut(count: number): void {
    this.metrics?.framesOutbound(count);
  }

  gapFilledFrames(count: number): void {
    this.metrics?.framesGapFilled(count);
  }

  framesDropped(reason: 'backpressure' | 'malformed' | 'late' | 'upstream_down' | 'cancelled', count: number): void {
    this.metrics?.framesDropped(reason, count);
  }

  outboundLead(ms: number): void {
    this.metrics?.outboundLead(ms);
  }

  transcoded(direction: 'in' | 'out', microseconds: number): void {
    this.metrics?.transcode(direction, microseconds);
  }

  ended(outcome: CallEndOutcome): void {
    this.#phase?.end('gave_up');
    this.stream.turns.end();
    this.stream.end(OUTCOMES[outcome]);
  }
}
