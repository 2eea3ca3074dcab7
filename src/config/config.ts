// Owns the bridge's configuration: parsed once from the environment into a
// frozen, typed object that is passed down. Nothing outside `config/` reads
// `process.env`. Never puts a secret's value into an error message.

import { isIP } from 'node:net';

export type AudioMode = 'pcm24k' | 'pcmu';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** `server_vad` settings: phone lines are noisy, and this is what teams tune first. */
export interface TurnDetection {
  /** 0–1: how loud speech must be; raise it for noisy lines. */
  readonly threshold: number;
  /** Audio kept before detected speech, in ms. */
  readonly prefixPaddingMs: number;
  /** Silence that ends a turn, in ms: longer lets callers pause, shorter answers sooner. */
  readonly silenceDurationMs: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Public https origin Twilio reaches, without a trailing slash. */
  readonly publicUrl: string;
  readonly twilio: {
    readonly authToken: string;
    readonly accountSid: string;
  };
  readonly openai: {
    readonly apiKey: string;
    /** https base, without a trailing slash. */
    readonly baseUrl: string;
    readonly model: string;
  };
  readonly agent: {
    readonly instructions: string;
    readonly voice: string;
    readonly transcriptionModel: string;
    /** The service's voice activity detection, which ends the caller's turns and starts barge-ins. */
    readonly turnDetection: TurnDetection;
  };
  readonly audioMode: AudioMode;
  readonly logLevel: LogLevel;
  /** How caller phone numbers appear in logs: last4 (default), full (all digits hidden), none (unmasked). */
  readonly logPhoneNumbers: 'last4' | 'full' | 'none';
  /** Seconds a stream ticket stays valid (at most 60). */
  readonly ticketTtlSeconds: number;
  /** Seconds a minted ephemeral token lives (10 to 7200). */
  readonly tokenTtlSeconds: number;
  /** Largest WebSocket message accepted from Twilio, in bytes. */
  readonly maxMessageBytes: number;
  /** Milliseconds outbound audio may run ahead of what the caller has heard. */
  readonly maxOutboundLeadMs: number;
  /** Milliseconds a token mint or an upstream connect may take before it counts as failed. */
  readonly upstreamConnectTimeoutMs: number;
  readonly resilience: {
    /** Session age at which a rollover to a fresh session is tried at the next turn boundary. */
    readonly rolloverAfterMs: number;
    /** Caller audio kept while the upstream is away; older audio is dropped first. */
    readonly callerBufferMs: number;
    /** Outage after which the caller hears comfort audio. */
    readonly comfortAfterMs: number;
    readonly comfortSound: 'noise' | 'tone' | 'off';
    /** Outage after which the call is handed to the fallback. */
    readonly outageBudgetMs: number;
    /** A reply owed to the caller must begin (and keep coming) within this, or the AI session is replaced; 0: off. */
    readonly replyTimeoutMs: number;
  };
  readonly fallback: {
    /** Verbs (the inside of <Response>) the call is handed to when the AI cannot serve it. */
    readonly twimlVerbs: string;
    /** True when FALLBACK_TWIML was set (a human queue, say) rather than the default apology. */
    readonly custom: boolean;
  };
  /** Origin of Twilio's REST API. */
  readonly twilioApiBaseUrl: string;
  /** How long live calls may run after SIGTERM before they are handed to the fallback. */
  readonly drainTimeoutMs: number;
  readonly limits: {
    readonly maxCalls: number;
    readonly maxEventLoopDelayMs: number;
    readonly authFailuresPerMinute: number;
    readonly authBlockMs: number;
    readonly maxUnauthenticatedSockets: number;
    readonly maxUnauthenticatedSocketsPerIp: number;
    readonly maxMessagesPerSecond: number;
    /** A stream with no media for this long is ended. */
    readonly mediaIdleTimeoutMs: number;
    /** Bytes queued towards Twilio past which the call is ended: the socket is not draining. */
    readonly twilioMaxBacklogBytes: number;
  };
  /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe for client IPs. */
  readonly trustProxy: boolean | number | string[];
}

/** Thrown for a missing or malformed variable; the message is one line fit for an operator. */
export class ConfigError extends Error {
  readonly code = 'BRIDGE_ERR_CONFIG';
  constructor(readonly variable: string, expected: string) {
    super(`${variable}: ${expected}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const AUDIO_MODES: readonly AudioMode[] = ['pcm24k', 'pcmu'];

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function required(env: Env, name: string, expected: string): string {
  const value = read(env, name);
  if (value === undefined) throw new ConfigError(name, `is required (${expected})`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number from ${min} to ${max}`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected a whole number from ${min} to ${max}`);
  return value;
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = /^(\d+(\.\d+)?|\.\d+)$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) throw new ConfigError(name, `expected a number from ${min} to ${max}, such as ${fallback}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

function httpBase(env: Env, name: string, fallback: string | undefined, httpsOnly: boolean): string {
  const raw = fallback === undefined ? required(env, name, 'an https URL such as https://voice.example.com') : (read(env, name) ?? fallback);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, 'expected an absolute URL such as https://voice.example.com');
  }
  const schemes = httpsOnly ? ['https:'] : ['https:', 'http:'];
  if (!schemes.includes(url.protocol)) {
    throw new ConfigError(name, `expected ${httpsOnly ? 'an https' : 'an http or https'} URL`);
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(name, 'expected a base URL without query, fragment or credentials');
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new ConfigError(name, 'expected an origin only, with no path (routes are served at /twilio/…)');
  }
  return url.origin;
}

/**
 * Parses and validates the environment. Throws ConfigError naming the first
 * bad variable; the caller prints its message and exits.
 */
export function loadConfig(env: Env): Config {
  const accountSid = required(env, 'TWILIO_ACCOUNT_SID', 'the Twilio account SID, AC followed by 32 hex digits');
  if (!/^AC[0-9a-fA-F]{32}$/.test(accountSid)) {
    throw new ConfigError('TWILIO_ACCOUNT_SID', 'expected AC followed by 32 hex digits');
  }
  const authToken = required(env, 'TWILIO_AUTH_TOKEN', "the Twilio account's auth token");
  if (authToken.length < 16) throw new ConfigError('TWILIO_AUTH_TOKEN', 'looks too short to be a Twilio auth token');

  const apiKey = required(env, 'OPENAI_API_KEY', 'the long-lived API key used only to mint short-lived tokens');

  const config: Config = {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: read(env, 'HOST') ?? '0.0.0.0',
    publicUrl: httpBase(env, 'PUBLIC_URL', undefined, true),
    twilio: { authToken, accountSid },
    openai: {
      apiKey,
      baseUrl: httpBase(env, 'OPENAI_BASE_URL', 'https://api.openai.com', false),
      model: read(env, 'OPENAI_REALTIME_MODEL') ?? 'gpt-realtime',
    },
    agent: {
      instructions:
        read(env, 'AGENT_INSTRUCTIONS') ??
        'You are a helpful voice assistant on a phone call. Keep answers short and speak naturally.',
      voice: read(env, 'AGENT_VOICE') ?? 'marin',
      transcriptionModel: read(env, 'AGENT_TRANSCRIPTION_MODEL') ?? 'gpt-4o-mini-transcribe',
      turnDetection: {
        // At 0 every sound is speech and a turn may never end; at 1 nothing is, and the caller is never answered.
        threshold: decimal(env, 'VAD_THRESHOLD', 0.5, 0.1, 0.95),
        // At most the second of audio before speech that the bridge keeps for a replay after a reconnect.
        prefixPaddingMs: integer(env, 'VAD_PREFIX_PADDING_MS', 300, 0, 1000),
        // The bridge keeps 6 s of an utterance for a replay, its closing silence included.
        silenceDurationMs: integer(env, 'VAD_SILENCE_DURATION_MS', 500, 100, 3000),
      },
    },
    audioMode: oneOf(env, 'AUDIO_MODE', AUDIO_MODES, 'pcm24k'),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    logPhoneNumbers: oneOf(env, 'LOG_PHONE_NUMBERS', ['last4', 'full', 'none'] as const, 'last4'),
    ticketTtlSeconds: integer(env, 'STREAM_TICKET_TTL_SECONDS', 60, 5, 60),
    tokenTtlSeconds: integer(env, 'OPENAI_TOKEN_TTL_SECONDS', 60, 10, 7200),
    maxMessageBytes: integer(env, 'TWILIO_MAX_MESSAGE_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    maxOutboundLeadMs: integer(env, 'MAX_OUTBOUND_LEAD_MS', 200, 40, 2000),
    upstreamConnectTimeoutMs: integer(env, 'UPSTREAM_CONNECT_TIMEOUT_MS', 5000, 100, 60_000),
    resilience: {
      rolloverAfterMs: integer(env, 'SESSION_ROLLOVER_AFTER_MS', 55 * 60_000, 1000, 60 * 60_000),
      callerBufferMs: integer(env, 'CALLER_AUDIO_BUFFER_MS', 10_000, 0, 120_000),
      comfortAfterMs: integer(env, 'COMFORT_AUDIO_AFTER_MS', 500, 0, 60_000),
      comfortSound: oneOf(env, 'COMFORT_AUDIO', ['noise', 'tone', 'off'] as const, 'noise'),
      outageBudgetMs: integer(env, 'OUTAGE_BUDGET_MS', 20_000, 1000, 600_000),
      replyTimeoutMs: replyTimeout(env),
    },
    fallback: fallbackTwiml(env),
    twilioApiBaseUrl: httpBase(env, 'TWILIO_API_BASE_URL', 'https://api.twilio.com', false),
    drainTimeoutMs: integer(env, 'DRAIN_TIMEOUT_MS', 60_000, 0, 3_600_000),
    limits: {
      maxCalls: integer(env, 'MAX_CALLS', 300, 1, 100_000),
      maxEventLoopDelayMs: integer(env, 'MAX_EVENT_LOOP_DELAY_MS', 40, 1, 10_000),
      authFailuresPerMinute: integer(env, 'AUTH_FAILURES_PER_MINUTE', 50, 1, 100_000),
      authBlockMs: integer(env, 'AUTH_BLOCK_SECONDS', 300, 1, 86_400) * 1000,
      maxUnauthenticatedSockets: integer(env, 'MAX_UNAUTHENTICATED_SOCKETS', 1024, 1, 1_000_000),
      maxUnauthenticatedSocketsPerIp: integer(env, 'MAX_UNAUTHENTICATED_SOCKETS_PER_IP', 64, 1, 1_000_000),
      // At least 150: while the assistant speaks a real call sends 50 frames and about 17 mark echoes a second.
      maxMessagesPerSecond: integer(env, 'MAX_TWILIO_MESSAGES_PER_SECOND', 250, 150, 100_000),
      mediaIdleTimeoutMs: integer(env, 'MEDIA_IDLE_TIMEOUT_MS', 60_000, 1000, 3_600_000),
      twilioMaxBacklogBytes: integer(env, 'TWILIO_MAX_BACKLOG_BYTES', 1024 * 1024, 16 * 1024, 64 * 1024 * 1024),
    },
    trustProxy: trustProxy(env),
  };
  return deepFreeze(config);
}

/** AI_REPLY_TIMEOUT_MS: 0 turns the answer clock off; otherwise at least a second, so a normal reply is never cut. */
function replyTimeout(env: Env): number {
  const value = integer(env, 'AI_REPLY_TIMEOUT_MS', 6000, 0, 120_000);
  if (value !== 0 && value < 1000) throw new ConfigError('AI_REPLY_TIMEOUT_MS', 'expected 0 (off) or 1000 to 120000');
  return value;
}

/**
 * TRUST_PROXY: false (default: clients connect directly), a hop count, or a
 * comma list of proxy addresses/CIDRs. `true` is refused: it would believe
 * any X-Forwarded-For a client sends, and so let it pick its address.
 */
function trustProxy(env: Env): boolean | number | string[] {
  const raw = read(env, 'TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') throw new ConfigError('TRUST_PROXY', 'true would let any client choose its address; give the hop count (e.g. 1) or the proxy addresses/CIDRs');
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > MAX_PROXY_HOPS) throw new ConfigError('TRUST_PROXY', `a hop count is at most ${MAX_PROXY_HOPS}; give proxy addresses/CIDRs as a comma list`);
    return hops;
  }
  const list = raw.split(',').map((s) => s.trim());
  for (const entry of list) {
    if (!isAddressOrCidr(entry)) throw new ConfigError('TRUST_PROXY', `${JSON.stringify(entry.slice(0, 60))} is not an IP address or CIDR; expected false, a hop count, or a comma list of proxy IPs/CIDRs`);
  }
  return list;
}

/** More proxies than this in front of one service is a typo (an address or port written as a count). */
const MAX_PROXY_HOPS = 10;

function isAddressOrCidr(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

const DEFAULT_FALLBACK_VERBS =
  '<Say>Sorry, our assistant is not available right now. Please call again later. Goodbye.</Say><Hangup/>';

/** FALLBACK_TWIML is a whole <Response> document; the bridge keeps the verbs inside it. */
function fallbackTwiml(env: Env): { twimlVerbs: string; custom: boolean } {
  const raw = read(env, 'FALLBACK_TWIML');
  if (raw === undefined) return { twimlVerbs: DEFAULT_FALLBACK_VERBS, custom: false };
  const match = /^(?:<\?xml[^>]*\?>\s*)?<Response>([\s\S]*)<\/Response>$/.exec(raw);
  if (!match || match[1]!.trim() === '') {
    throw new ConfigError('FALLBACK_TWIML', 'expected a TwiML document such as <Response><Dial>+15550100</Dial></Response>');
  }
  return { twimlVerbs: match[1]!.trim(), custom: true };
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}
