// Owns every telemetry name the bridge emits: span names, event names, span
// and metric attribute keys, and the closed sets of values they take. OTel
// semantic conventions are used where they exist (gen_ai.*, error.type,
// server.address); everything else lives under `bridge.*`. This file and the
// table in otel/README.md are the one place these names are documented; keep
// them in step. Never add an attribute that could carry a secret (tokens,
// signatures, tickets) or a raw phone number.

/** Default service.name when OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES do not set one. */
export const SERVICE_NAME = 'twilio-realtime-bridge';
/** Instrumentation scope of the bridge's own tracer and meter. */
export const SCOPE_NAME = 'twilio-realtime-bridge';

/** Span names: fixed, low-cardinality; the variable parts are attributes. */
export const SPAN = {
  /** Root of a call's trace: from the voice webhook to the end of the media stream. */
  call: 'call',
  /** The media stream as served by one process: upgrade to close. Child of `call`. */
  stream: 'call.stream',
  /** X-Twilio-Signature and ticket check on the WebSocket upgrade. */
  streamAuth: 'twilio.stream.auth',
  /** POST /v1/realtime/client_secrets minting a short-lived `ek_` token. */
  tokenMint: 'upstream.token_mint',
  /** One attempt to open the realtime socket, until the session is ready or the attempt fails. */
  upstreamConnect: 'upstream.connect',
  /** One conversational turn: caller speech → assistant reply (or its interruption). */
  turn: 'turn',
  /** The caller talking over the assistant: clear + truncate. */
  bargeIn: 'turn.barge_in',
  /** From an upstream drop to a replacement session being ready (or giving up). */
  reconnect: 'upstream.reconnect',
  /** Planned replacement of the upstream session before its 60-minute cap. */
  rollover: 'upstream.rollover',
  /** The bridge giving up on the AI and playing fallback TwiML / hanging up / transferring. */
  fallback: 'call.fallback',
  /** One Twilio REST request on the live call. */
  twilioRest: 'twilio.rest',
} as const;

/** Span event names. */
export const EVENT = {
  /** The caller stopped speaking (server VAD speech_stopped). */
  speechStopped: 'bridge.turn.speech_stopped',
  /** The first assistant audio of the turn was sent to Twilio; carries bridge.turn.latency_ms. */
  firstAudio: 'bridge.turn.first_audio',
  /** The turn was cut short by the caller; carries bridge.turn.heard_ms. */
  interrupted: 'bridge.turn.interrupted',
  /** An established upstream session closed; carries close code and reason. */
  upstreamClosed: 'bridge.upstream.closed',
  /** The AI owed the caller a reply and gave none in time: its session is replaced (or the call handed off). */
  replyTimeout: 'bridge.upstream.reply_timeout',
} as const;

/** Attribute keys. */
export const ATTR = {
  // --- OpenTelemetry semantic conventions (gen_ai.* is still "development"
  // status, so the strings are copied here rather than imported from the
  // incubating entry point, as the semconv package advises).
  /** semconv: the GenAI provider, `openai`. */
  genAiProvider: 'gen_ai.provider.name',
  /** semconv: the operation; realtime conversations are `chat`. */
  genAiOperation: 'gen_ai.operation.name',
  /** semconv: model requested for the realtime session. */
  genAiRequestModel: 'gen_ai.request.model',
  /** semconv: id of the response (response.done → response.id). */
  genAiResponseId: 'gen_ai.response.id',
  /** semconv: input tokens of the response (response.done → usage.input_tokens). */
  genAiInputTokens: 'gen_ai.usage.input_tokens',
  /** semconv: output tokens of the response (response.done → usage.output_tokens). */
  genAiOutputTokens: 'gen_ai.usage.output_tokens',
  /** semconv: low-cardinality class of error when a span fails. */
  errorType: 'error.type',
  /** semconv: host the client span talks to. */
  serverAddress: 'server.address',
  /** semconv: HTTP status of a client request. */
  httpStatus: 'http.response.status_code',

  // --- bridge.* (no convention exists)
  /** Twilio CallSid (CA…). Not secret; the key to find a call. */
  callSid: 'bridge.call.sid',
  /** Twilio StreamSid (MZ…). */
  streamSid: 'bridge.stream.sid',
  /** How the call ended; see CallOutcome. Also a metric attribute. */
  callOutcome: 'bridge.call.outcome',
  /** Whether the stream was served by the process that answered the webhook. */
  streamLocal: 'bridge.call.stream_local',
  /** Which endpoint checked a signature: webhook | stream | status_callback. Also a metric attribute. */
  authSurface: 'bridge.auth.surface',
  /** `ok`, or the failure reason; see AuthOutcome. */
  authOutcome: 'bridge.auth.outcome',
  /** Failure reason on the auth-failure metric; see AuthOutcome minus `ok`. */
  authReason: 'bridge.auth.reason',
  /** Requested lifetime of a minted token, in seconds (never the token). */
  tokenTtlS: 'bridge.token.ttl_s',
  /** 1-based number of the upstream connect attempt within the call. */
  upstreamAttempt: 'bridge.upstream.attempt',
  /** Result of a connect attempt or token mint; see UpstreamOutcome. Also a metric attribute. */
  upstreamOutcome: 'bridge.upstream.outcome',
  /** WebSocket close code of the upstream socket (e.g. 1001, 3000, 4000). */
  upstreamCloseCode: 'bridge.upstream.close_code',
  /** WebSocket close reason text sent by the upstream (e.g. invalid_api_key). */
  upstreamCloseReason: 'bridge.upstream.close_reason',
  /** AI_REPLY_TIMEOUT_MS in force when a reply timed out. */
  replyTimeoutMs: 'bridge.upstream.reply_timeout_ms',
  /** 1-based index of the turn within the call. */
  turnIndex: 'bridge.turn.index',
  /** Milliseconds from the caller's speech end to the first assistant audio sent to Twilio. */
  turnLatencyMs: 'bridge.turn.latency_ms',
  /** Whether the caller interrupted the assistant's reply. */
  turnInterrupted: 'bridge.turn.interrupted',
  /** On an interrupted turn: milliseconds of assistant audio the caller actually heard. */
  turnHeardMs: 'bridge.turn.heard_ms',
  /** response.done → response.status: completed | cancelled | failed | incomplete. */
  responseStatus: 'bridge.response.status',
  /** Why a reconnect, rollover or fallback happened (short code, e.g. close_1006, session_cap). */
  reason: 'bridge.reason',
  /** How a reconnect, rollover, fallback or REST call ended: ok | failed | gave_up. */
  outcome: 'bridge.outcome',
  /** Connect attempts a reconnect or rollover took. */
  attempts: 'bridge.attempts',
  /** What the fallback did: twiml | hangup | transfer. */
  fallbackAction: 'bridge.fallback.action',
  /** Twilio REST operation, e.g. calls.update. */
  twilioOperation: 'bridge.twilio.operation',
  /** Twilio REST error code on failure (e.g. 20404). */
  twilioErrorCode: 'bridge.twilio.error_code',
  /** Frame direction on frame metrics: in (caller → AI) | out (AI → caller). */
  frameDirection: 'bridge.frame.direction',
  /** Why frames were dropped; see DropReason. */
  dropReason: 'bridge.frame.drop_reason',
  /** What was turned away: http (a request) | upgrade | connection (a TCP socket) | call (a new call, given the fallback). */
  refusalSurface: 'bridge.refusal.surface',
  /** Why it was turned away; see RefusalReason. */
  refusalReason: 'bridge.refusal.reason',
} as const;

export type CallOutcome = 'completed' | 'caller_hangup' | 'upstream_failed' | 'fallback' | 'rejected' | 'error' | 'drained';
export type AuthSurface = 'webhook' | 'stream' | 'status_callback';
export type AuthOutcome =
  | 'ok'
  | 'missing_signature'
  | 'bad_signature'
  | 'ticket_missing'
  | 'ticket_invalid'
  | 'ticket_expired'
  | 'ticket_reused'
  | 'call_mismatch';
/** `abandoned`: the call ended while the attempt was under way (not a failure of the AI service). */
export type UpstreamOutcome = 'ok' | 'rejected' | 'auth_failed' | 'closed' | 'timeout' | 'error' | 'abandoned';
export type PhaseOutcome = 'ok' | 'failed' | 'gave_up';
export type FrameDirection = 'in' | 'out';
export type DropReason = 'backpressure' | 'malformed' | 'late' | 'upstream_down' | 'cancelled';
export type FallbackAction = 'twiml' | 'hangup' | 'transfer';
export type RefusalSurface = 'http' | 'upgrade' | 'connection' | 'call';
/** Refusals that are not a failed credential check (those are bridge.auth.failures). */
export type RefusalReason = 'blocked_ip' | 'unauthenticated_socket_cap' | 'per_ip_request_cap' | 'max_calls' | 'event_loop_delay' | 'draining';

export const GEN_AI_PROVIDER_OPENAI = 'openai';
export const GEN_AI_OPERATION_CHAT = 'chat';
