// Owns what a call reports about itself for operations: the moments a trace
// and the metrics need (turns, barge-ins, connects, outages, fallbacks,
// frames). The call path speaks only this interface; src/telemetry
// implements it over OpenTelemetry. NO_TELEMETRY keeps tests and tools free
// of any SDK. Implementations must be cheap on the per-frame methods.

import type { AttemptObserver, SessionKind } from '../upstream/realtime-link.js';

export type CallEndOutcome = 'completed' | 'rejected' | 'fallback' | 'hung_up_by_agent' | 'twilio_closed' | 'idle_timeout' | 'overloaded' | 'error';

export interface Operation {
  ok(): void;
  fail(errorType: string): void;
}

export interface CallTelemetry {
  streamStarted(streamSid: string): void;
  connectStarted(attempt: number, kind: SessionKind): AttemptObserver | undefined;
  /** The current session dropped: a reconnect phase starts. */
  upstreamLost(reason: string): void;
  /** A session replacement begins: planned (its age) or forced by the service's session_expired. */
  rolloverStarted(reason: 'session_age' | 'session_expired'): void;
  /** The AI owed the caller a reply and gave none within `timeoutMs`. */
  replyTimedOut(timeoutMs: number): void;
  /** A session became current (ends a reconnect or rollover phase). */
  sessionActive(kind: SessionKind): void;
  speechStarted(bargeInHeardMs?: number): void;
  speechStopped(): void;
  responseCreated(): void;
  /** Assistant audio reached Twilio (called per frame; only the first of a turn matters). */
  audioSent(): void;
  responseDone(info: { id: string; status: string; inputTokens?: number; outputTokens?: number }): void;
  fallback(reason: string): Operation;
  twilioRest(operation: string): Operation;
  framesIn(count: number): void;
  framesOut(count: number): void;
  gapFilledFrames(count: number): void;
  framesDropped(reason: 'backpressure' | 'malformed' | 'late' | 'upstream_down' | 'cancelled', count: number): void;
  outboundLead(ms: number): void;
  transcoded(direction: 'in' | 'out', microseconds: number): void;
  ended(outcome: CallEndOutcome): void;
}

const NOOP_OPERATION: Operation = { ok() {}, fail() {} };

export const NO_TELEMETRY: CallTelemetry = {
  streamStarted() {},
  connectStarted: () => undefined,
  upstreamLost() {},
  rolloverStarted() {},
  replyTimedOut() {},
  sessionActive() {},
  speechStarted() {},
  speechStopped() {},
  responseCreated() {},
  audioSent() {},
  responseDone() {},
  fallback: () => NOOP_OPERATION,
  twilioRest: () => NOOP_OPERATION,
  framesIn() {},
  framesOut() {},
  gapFilledFrames() {},
  framesDropped() {},
  outboundLead() {},
  transcoded() {},
  ended() {},
};
