// Owns the shape and hygiene of the bridge's JSON logs: the pino options
// handed to Fastify (`Fastify({ logger: loggerOptions(...) })`), declarative
// redaction of secret fields, masking of caller phone numbers, request/error
// serializers that drop the stream ticket from URLs, and the per-call child
// logger. trace_id / span_id come from @opentelemetry/instrumentation-pino
// (started by preload.ts) for lines written inside a call's context. Never
// lets an API key, `ek_` token, Twilio auth token, signature or stream ticket
// reach a log line.

import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, maskPhone, redactTicketPath, type PhoneMasking } from './redact.js';

export type { PhoneMasking } from './redact.js';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggingOptions {
  readonly level: LogLevel;
  /** How caller numbers appear: `last4` (default) keeps `+1******0123`, `full` hides all digits, `none` logs them as is. */
  readonly phoneMasking?: PhoneMasking;
}

/** Field names that hold a secret, wherever they appear (top level, or one/two levels down). */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'apiKey',
  'api_key',
  'authToken',
  'auth_token',
  'token',
  'accessToken',
  'clientSecret',
  'client_secret',
  'ephemeralKey',
  'secret',
  'password',
  'signature',
  'ticket',
  // Twilio's webhook field: a credential that lets whoever holds it forward the call.
  'CallToken',
  'X-Twilio-Signature',
  'x-twilio-signature',
];

/** Header paths (Fastify's req, raw headers objects, ws upgrade requests). */
const HEADER_PATHS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-twilio-signature'].flatMap((h) => [
  `req.headers["${h}"]`,
  `headers["${h}"]`,
  `*.headers["${h}"]`,
  `request.headers["${h}"]`,
]);

/** Twilio's names for phone-number fields in webhooks and status callbacks. */
const PHONE_KEYS = ['From', 'To', 'Caller', 'Called', 'ForwardedFrom', 'CallerId', 'callerNumber', 'calledNumber'];

function atDepths(keys: readonly string[]): string[] {
  return keys.flatMap((k) => {
    const seg = /^[A-Za-z_$][\w$]*$/.test(k) ? k : `["${k}"]`;
    const join = (prefix: string) => (seg.startsWith('[') ? `${prefix}${seg}` : `${prefix}.${seg}`);
    return [seg, join('*'), join('*.*')];
  });
}

/**
 * Fields that hold a URL or TwiML (which quotes the stream URL): kept, with the
 * ticket segment replaced. Only keys that by convention hold strings: pino does
 * not visit paths nested under a redacted key, so an object here would shield
 * its children from the other rules.
 */
const URL_KEYS = ['url', 'originalUrl', 'href', 'streamUrl', 'wsUrl', 'twiml'];

const SECRET_PATHS = [...atDepths(SECRET_KEYS), ...HEADER_PATHS];
const PHONE_PATHS = atDepths(PHONE_KEYS);
const URL_PATHS = atDepths(URL_KEYS);
const PHONE_PATH_SET = new Set(PHONE_KEYS);
const URL_PATH_SET = new Set(URL_KEYS);

// Belt and braces for free text (messages, error strings): shapes that are
// secrets whatever field they sit in. Declarative redaction above handles
// structured fields; this catches the ones that slipped into a sentence.
const TEXT_SECRETS: ReadonlyArray<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/\bek_[A-Za-z0-9_-]{6,}/g, `ek_${REDACTED}`],
  [/\bsk-[A-Za-z0-9_-]{10,}/g, `sk-${REDACTED}`],
];

/** Scrubs a free-text string: stream tickets in paths, bearer/basic credentials, ek_/sk- keys. */
export function scrubText(text: string): string {
  let out = redactTicketPath(text);
  for (const [pattern, replacement] of TEXT_SECRETS) out = out.replace(pattern, replacement);
  return out;
}

interface RequestLike {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  headers?: Record<string, unknown>;
  socket?: { remotePort?: number };
}

/** Fastify's request serializer, minus the ticket in the URL. */
function serializeRequest(req: RequestLike): Record<string, unknown> {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactTicketPath(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (out === null || typeof out !== 'object') return out;
  // Errors from ws / fetch often quote the URL they failed on, ticket included.
  for (const key of ['message', 'stack'] as const) {
    const v = out[key];
    if (typeof v === 'string') out[key] = scrubText(v);
  }
  return out;
}

/**
 * Pino options for Fastify's logger. JSON lines on stdout; redaction and
 * masking are declarative (pino `redact`), compiled once at start-up.
 * Cost: the wildcard paths make an emitted line ~20x dearer than bare pino
 * (tens of µs). That is the price of catching a secret wherever it is
 * nested; lines below the level are never serialized, so it only bites when
 * per-frame lines are logged at debug/trace.
 */
export function loggerOptions(options: LoggingOptions): LoggerOptions {
  const masking = options.phoneMasking ?? 'last4';
  const paths = masking === 'none' ? [...SECRET_PATHS, ...URL_PATHS] : [...SECRET_PATHS, ...URL_PATHS, ...PHONE_PATHS];
  return {
    level: options.level,
    // Bound to the process, not the host: containers get their name from the orchestrator.
    base: { pid: process.pid },
    messageKey: 'msg',
    redact: {
      paths,
      censor: (value: unknown, path: string[]) => {
        const key = path[path.length - 1] ?? '';
        if (URL_PATH_SET.has(key)) return typeof value === 'string' ? redactTicketPath(value) : value;
        if (PHONE_PATH_SET.has(key)) return typeof value === 'string' ? maskPhone(value, masking) : REDACTED;
        return REDACTED;
      },
    },
    serializers: { req: serializeRequest as (req: unknown) => unknown, err: serializeError },
    hooks: {
      // Free-text arguments (the message and printf-style args) get the same scrub.
      logMethod(args, method) {
        for (let i = 0; i < args.length; i++) {
          const a = args[i];
          if (typeof a === 'string') (args as unknown[])[i] = scrubText(a);
        }
        return method.apply(this, args as Parameters<typeof method>);
      },
    },
  };
}

/** A standalone logger with the same options (tests, tools, code outside Fastify). */
export function createLogger(options: LoggingOptions, destination?: DestinationStream): Logger {
  return destination ? pino(loggerOptions(options), destination) : pino(loggerOptions(options));
}

/** Per-call identifiers every line of a call carries. */
export interface CallLogIds {
  readonly callSid: string;
  readonly streamSid?: string;
}

/**
 * The call's child logger. Lines carry callSid and streamSid; trace_id and
 * span_id are added by the pino instrumentation when the line is written
 * inside the call's context (wrap socket listeners with StreamTrace.bind).
 * Works with a pino Logger and with Fastify's `request.log` / `app.log`.
 */
export function callLogger<L extends { child(bindings: Record<string, string>): L }>(parent: L, ids: CallLogIds): L {
  return parent.child(ids.streamSid === undefined ? { callSid: ids.callSid } : { callSid: ids.callSid, streamSid: ids.streamSid });
}
