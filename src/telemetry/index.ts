// The public surface of src/telemetry for the call path: metrics, call
// tracing, turn tracking, log options and shutdown. Deliberately does not
// re-export preload.ts: importing that module starts the SDK, and it must be
// loaded with `node --import` before the app, never from app code.

export { ATTR, EVENT, SPAN, SERVICE_NAME, SCOPE_NAME } from './attributes.js';
export type { AuthOutcome, AuthSurface, CallOutcome, DropReason, FallbackAction, FrameDirection, PhaseOutcome, UpstreamOutcome } from './attributes.js';
export { BridgeMetrics, METRIC, BUCKETS } from './metrics.js';
export { CallTracer, CallRoot, StreamTrace, ConnectAttempt, UpstreamPhase, SpanOperation, TurnTracker, extractTraceparent, systemClock } from './tracing.js';
export type { CallTracerOptions, Clock, ConnectFailure, ResponseDoneInfo } from './tracing.js';
export { loggerOptions, createLogger, callLogger, scrubText } from './logging.js';
export type { CallLogIds, LoggingOptions, LogLevel, PhoneMasking } from './logging.js';
export { maskPhone, redactTicketPath, REDACTED } from './redact.js';
export { shutdownTelemetry } from './runtime.js';
