// Assembles the bridge: one Fastify instance with the health routes, the
// voice webhook and the media stream route, the registry of live calls, and
// the drain that SIGTERM starts. Tests call buildApp without opening a port,
// or listen on loopback where a real socket is the point.

import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import type { Config } from './config/config.js';
import { CallSession, type CallSummary } from './call/call-session.js';
import { twilioCallControl, type CallControl } from './twilio/call-control.js';
import { TwilioSignatureVerifier } from './twilio/signature.js';
import { StreamTicketIssuer, type UsedTicketLedger } from './twilio/stream-ticket.js';
import { voiceWebhook } from './twilio/voice-webhook.js';
import { mediaStreamRoute } from './twilio/media-stream-route.js';
import { realtimeConnector, type UpstreamConnector } from './upstream/connect.js';
import type { ConnectAttempt } from './upstream/realtime-link.js';
import type { ReconnectPolicy } from './upstream/reconnect-policy.js';
import { admitCall } from './admission/admission-control.js';
import { CallReservations } from './admission/call-reservations.js';
import { AuthFailureLimiter } from './admission/auth-failure-limiter.js';
import { ConnectionGate } from './admission/connection-gate.js';
import { LoopDelayWindow } from './admission/loop-delay-window.js';
import { clientKey } from './admission/client-key.js';
import { trustedProxyPeer } from './admission/trusted-proxies.js';
import { BridgeMetrics } from './telemetry/metrics.js';
import { CallTracer } from './telemetry/tracing.js';
import { OtelCallTelemetry } from './telemetry/call-telemetry.js';
import { loggerOptions } from './telemetry/logging.js';
import type { AuthOutcome } from './telemetry/attributes.js';
import { holdUntilBatchEnds } from './net/write-coalescer.js';

export interface AppDeps {
  readonly logger?: FastifyBaseLogger;
  readonly now?: () => number;
  readonly connectUpstream?: UpstreamConnector;
  readonly callControl?: CallControl;
  readonly ticketLedger?: UsedTicketLedger;
  readonly startTimeoutMs?: number;
  readonly reconnectPolicy?: () => ReconnectPolicy;
  readonly onCallEnded?: (summary: CallSummary) => void;
  readonly onConnectAttempt?: (callSid: string, attempt: ConnectAttempt) => void;
  /** Recent p99 event-loop delay in ms; defaults to a live LoopDelayWindow. */
  readonly loopDelayP99Ms?: () => number;
  /** Tracing and metrics; defaults to the global OTel providers (no-ops unless the preload started the SDK). */
  readonly tracer?: CallTracer;
  readonly metrics?: BridgeMetrics;
}

/** Our refusal reasons in the telemetry's closed vocabulary. */
function authOutcome(reason: string): Exclude<AuthOutcome, 'ok'> {
  if (reason.endsWith('signature_missing')) return 'missing_signature';
  if (reason.endsWith('signature_invalid') || reason.endsWith('account_mismatch')) return 'bad_signature';
  if (reason === 'ticket_expired') return 'ticket_expired';
  if (reason === 'ticket_reused') return 'ticket_reused';
  return 'ticket_invalid';
}

export interface Bridge {
  readonly app: FastifyInstance;
  readonly calls: ReadonlySet<CallSession>;
  /**
   * Stops admitting calls (readyz turns 503, new callers get the fallback),
   * lets live calls finish until the drain deadline, hands the rest to the
   * fallback, then closes the server.
   */
  drain(): Promise<void>;
}

const HANDOFF_WAIT_MS = 6000;

/** Trusts the nearest `hops` proxies' X-Forwarded-For entries. */
function hopsTrusted(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<Bridge> {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions({ level: config.logLevel, phoneMasking: config.logPhoneNumbers }) }),
    // Request lines would carry stream tickets in their URLs; the routes log what matters themselves.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // Client IPs feed the abuse limits: only a configured proxy may vouch for them.
    trustProxy: typeof config.trustProxy === 'number' ? hopsTrusted(config.trustProxy) : config.trustProxy,
    // Unauthenticated sockets must not linger: a request gets 10 s for its headers and 15 s in all. Node enforces
    // both only when it checks its connections, every 30 s by default: check every second.
    http: { connectionsCheckingInterval: 1000 },
    connectionTimeout: 15_000,
    keepAliveTimeout: 5_000,
    requestTimeout: 15_000,
    // Stream tickets (with trace context) are longer than the router's default 100-character parameter limit.
    routerOptions: { maxParamLength: 512 },
  });
  const verifier = new TwilioSignatureVerifier(config.twilio.authToken, config.publicUrl);
  const tickets = new StreamTicketIssuer(config.twilio.authToken, config.ticketTtlSeconds * 1000, deps.ticketLedger);
  const callControl =
    deps.callControl ?? twilioCallControl(config.twilio.accountSid, config.twilio.authToken, config.twilioApiBaseUrl, config.upstreamConnectTimeoutMs);
  const connectUpstream =
    deps.connectUpstream ??
    realtimeConnector({
      baseUrl: config.openai.baseUrl,
      apiKey: config.openai.apiKey,
      model: config.openai.model,
      tokenTtlSeconds: config.tokenTtlSeconds,
      connectTimeoutMs: config.upstreamConnectTimeoutMs,
      audioMode: config.audioMode,
      instructions: config.agent.instructions,
      voice: config.agent.voice,
      transcriptionModel: config.agent.transcriptionModel,
      turnDetection: config.agent.turnDetection,
    });
  const calls = new Set<CallSession>();
  let draining = false;
  const metrics = deps.metrics ?? new BridgeMetrics();
  const tracer = deps.tracer ?? new CallTracer({ metrics, model: config.openai.model });
  const loopDelay = deps.loopDelayP99Ms ? undefined : new LoopDelayWindow();
  const loopDelayP99Ms = deps.loopDelayP99Ms ?? (() => loopDelay!.p99Ms);
  // Calls given a stream whose socket has not opened yet count against MAX_CALLS too.
  const reservations = new CallReservations(config.ticketTtlSeconds * 1000);
  const admission = () =>
    admitCall(
      { maxCalls: config.limits.maxCalls, maxLoopDelayMs: config.limits.maxEventLoopDelayMs },
      { liveCalls: calls.size + reservations.pending(now()), loopDelayP99Ms: loopDelayP99Ms(), draining },
    );
  const limiter = new AuthFailureLimiter({
    maxFailures: config.limits.authFailuresPerMinute,
    windowMs: 60_000,
    cooldownMs: config.limits.authBlockMs,
    maxTrackedIps: 10_000,
  });
  /** Counts a failed credential check; true when its address is blocked (so the route answers a bare 429). */
  const onAuthFailure = (surface: 'webhook' | 'stream', reason: string, ip: string): boolean => {
    const key = clientKey(ip);
    const wasBlocked = limiter.isBlocked(key, now());
    if (limiter.recordFailure(key, now())) {
      metrics.addressBlocked();
      app.log.warn({ ip, reason, blockMs: config.limits.authBlockMs }, 'blocking unsigned requests from an address after repeated authentication failures');
    }
    if (wasBlocked) {
      // Refused without a span or a log line: counted, once per request, in the refusals metric.
      metrics.refused(surface === 'stream' ? 'upgrade' : 'http', 'blocked_ip');
      return true;
    }
    tracer.authRejected(surface, authOutcome(reason));
    return false;
  };

  // Connections that do not (yet) carry an authenticated stream are capped in total and per address. A trusted
  // proxy's connections carry many clients, so a per-address cap on them would cap all traffic together: behind a
  // proxy the per-address cap applies per request instead (requests being served or upgrades being checked, by the
  // client address the proxy vouches for), and the proxy's sockets count only towards the total. Any other peer
  // keeps its per-address socket cap.
  const behindProxy = config.trustProxy !== false && config.trustProxy !== 0;
  const fromTrustedProxy = trustedProxyPeer(config.trustProxy);
  const gate = new ConnectionGate({
    maxUnauthenticated: config.limits.maxUnauthenticatedSockets,
    maxUnauthenticatedPerIp: config.limits.maxUnauthenticatedSocketsPerIp,
  });
  const requestGate = behindProxy
    ? new ConnectionGate({ maxUnauthenticated: Number.POSITIVE_INFINITY, maxUnauthenticatedPerIp: config.limits.maxUnauthenticatedSocketsPerIp })
    : undefined;
  const gatedRequests = new WeakMap<object, string>();
  const releaseRequest = (raw: object) => {
    const ip = gatedRequests.get(raw);
    if (ip === undefined) return;
    gatedRequests.delete(raw);
    requestGate?.leave(ip);
  };
  // One line when the cap starts cutting sockets, then at most one a minute with the count: a flood must not
  // become a flood of log lines.
  let capRefusals = 0;
  let capLoggedAt = -Infinity;
  const capLog = (ip: string) => {
    capRefusals++;
    if (now() - capLoggedAt < 60_000) return;
    app.log.warn({ ip, refused: capRefusals, openUnauthenticated: gate.total }, 'cutting new sockets: the cap on unauthenticated sockets is reached');
    capLoggedAt = now();
    capRefusals = 0;
  };
  // Slow-header (slowloris) sockets are cut after 10 s; requestTimeout (15 s) bounds the whole request.
  app.server.headersTimeout = 10_000;
  const gated = new WeakMap<object, string>();
  app.server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    const ip = clientKey(address);
    if (!gate.enter(ip, !fromTrustedProxy(address))) {
      metrics.refused('connection', 'unauthenticated_socket_cap');
      capLog(ip);
      socket.destroy();
      return;
    }
    gated.set(socket, ip);
    socket.once('close', () => {
      if (gated.has(socket)) gate.leave(ip);
    });
  });
  const releaseGate = (socket: object) => {
    const ip = gated.get(socket);
    if (ip === undefined) return;
    gated.delete(socket);
    gate.leave(ip);
  };

  await app.register(formbody);
  // Twilio's text frames are parsed as JSON at once, which rejects bad text anyway: skip ws's UTF-8 pass.
  await app.register(websocket, {
    options: { maxPayload: config.maxMessageBytes, perMessageDeflate: false, skipUTF8Validation: true },
    // The plugin's default logs at error level and terminates the socket. A peer's bad frame (too large, bad opcode)
    // is not our failure, and ws has already sent the close code that says what was wrong (1009, 1002…): terminating
    // at once could drop that frame. Anything else reaching here is ours, thrown while setting up the call.
    errorHandler: (err, socket, request) => {
      if (socket.readyState === socket.CLOSING || socket.readyState === socket.CLOSED) {
        request.log.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'Twilio socket error');
        return;
      }
      request.log.error({ err }, 'media stream handler failed');
      socket.close(1011, 'internal error');
    },
  });

  // An address past the auth-failure limit has its unsigned requests refused before any work is done.
  // Signed ones are still checked and served: Twilio's addresses are shared by all its customers, so
  // blocking them outright would let anyone with a Twilio number take this bridge off the air.
  // Registered after the websocket plugin, whose own hooks mark an upgrade (request.ws) and destroy its socket once
  // answered: ahead of them, a refused upgrade's socket was never destroyed, and app.close() waited on it forever.
  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/healthz' || request.url === '/readyz') return;
    const ip = clientKey(request.ip);
    const surface = request.ws ? 'upgrade' : 'http';
    if (!request.headers['x-twilio-signature'] && limiter.isBlocked(ip, now())) {
      metrics.refused(surface, 'blocked_ip');
      return reply.code(429).header('connection', 'close').send();
    }
    if (requestGate !== undefined) {
      if (!requestGate.enter(ip)) {
        metrics.refused(surface, 'per_ip_request_cap');
        return reply.code(429).header('connection', 'close').send();
      }
      gatedRequests.set(request.raw, ip);
      // Released when answered (refused upgrades included), when the client gives up, or when the stream is accepted.
      // An upgrade's socket is its own (a keep-alive socket is not, and would gather a listener per request), so a
      // handshake abandoned part-way is released when its socket closes.
      if (request.ws) request.raw.socket.once('close', () => releaseRequest(request.raw));
    }
  });
  if (requestGate !== undefined) {
    app.addHook('onResponse', async (request) => releaseRequest(request.raw));
    app.addHook('onRequestAbort', async (request) => releaseRequest(request.raw));
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const verdict = admission();
    if (verdict.admit) return { status: 'ready', calls: calls.size };
    return reply.code(503).send({ status: verdict.reason === 'draining' ? 'draining' : 'full', reason: verdict.reason, calls: calls.size });
  });

  await app.register(voiceWebhook, {
    verifier,
    tickets,
    accountSid: config.twilio.accountSid,
    now,
    fallbackVerbs: config.fallback.twimlVerbs,
    refuseNewCall: (callSid) => {
      const verdict = admission();
      if (verdict.admit) {
        reservations.reserve(callSid, now());
        return undefined;
      }
      metrics.refused('call', verdict.reason);
      return verdict.reason;
    },
    onAuthFailure: (reason, ip) => onAuthFailure('webhook', reason, ip),
    startCall: (callSid) => tracer.startCall({ callSid }),
  });
  await app.register(mediaStreamRoute, {
    verifier,
    tickets,
    now,
    onAuthFailure: (reason, ip) => onAuthFailure('stream', reason, ip),
    onCall: (socket, claims, request) => {
      releaseGate(request.raw.socket);
      releaseRequest(request.raw);
      reservations.release(claims.callSid);
      const upgradedAt = performance.timeOrigin + performance.now();
      const stream = tracer.startStream({ carrier: claims.traceparent, callSid: claims.callSid, startTime: upgradedAt });
      stream.authChecked({ outcome: 'ok', startTime: upgradedAt });
      const traceId = stream.traceId;
      // Every line of the call carries its trace ids, whether or not the pino instrumentation is loaded.
      const log = traceId ? request.log.child({ trace_id: traceId, span_id: stream.spanContext.spanId }) : request.log;
      // The upgraded TCP socket ws writes to: this turn's messages to it leave in one write.
      const tcp = request.raw.socket as Socket | undefined;
      const session = stream.run(() => new CallSession(
        {
          send: (text) => {
            holdUntilBatchEnds(tcp);
            socket.send(text);
          },
          close: (code, reason) => socket.close(code, reason),
          get bufferedAmount() {
            return socket.bufferedAmount;
          },
        },
        claims,
        {
          audioMode: config.audioMode,
          maxOutboundLeadMs: config.maxOutboundLeadMs,
          startTimeoutMs: deps.startTimeoutMs ?? 5000,
          connectUpstream,
          callControl,
          fallbackVerbs: config.fallback.twimlVerbs,
          resilience: config.resilience,
          limits: config.limits,
          log,
          telemetry: new OtelCallTelemetry(stream, metrics),
          now,
          ...(deps.reconnectPolicy ? { reconnectPolicy: deps.reconnectPolicy() } : {}),
          onEnded: (summary) => {
            calls.delete(session);
            deps.onCallEnded?.(summary);
          },
          onConnectAttempt: (attempt) => deps.onConnectAttempt?.(claims.callSid, attempt),
        },
      ));
      calls.add(session);
      socket.on('message', stream.bind((data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => session.onTwilioMessage(data, isBinary)));
      // A socket error (logged by the plugin's errorHandler above) is followed by 'close'; the session ends there.
      socket.on('close', stream.bind((code: number) => session.onTwilioClose(code)));
    },
  });

  const waitForCalls = async (ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (calls.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))));
    return calls.size === 0;
  };

  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    (drained ??= (async () => {
      draining = true;
      app.log.info({ calls: calls.size, deadlineMs: config.drainTimeoutMs }, 'draining: no new calls; waiting for live calls to end');
      if (!(await waitForCalls(config.drainTimeoutMs))) {
        app.log.warn({ calls: calls.size }, 'drain deadline reached: handing live calls to the fallback');
        for (const call of calls) call.handOff('the bridge is shutting down');
        await waitForCalls(HANDOFF_WAIT_MS);
      }
      await app.close();
      tracer.close();
    })());

  app.addHook('onClose', async () => loopDelay?.stop());

  return { app, calls, drain };
}
