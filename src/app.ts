// Assembles the bridge: one Fastify instance with the health routes, the
// voice webhook and the media stream route, and the registry of live calls.
// Tests call buildApp without opening a port, or listen on loopback where a
// real socket is the point.

import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import type { Config } from './config/config.js';
import { CallSession, type CallSummary } from './call/call-session.js';
import { TwilioSignatureVerifier } from './twilio/signature.js';
import { StreamTicketIssuer, type UsedTicketLedger } from './twilio/stream-ticket.js';
import { voiceWebhook } from './twilio/voice-webhook.js';
import { mediaStreamRoute } from './twilio/media-stream-route.js';
import { realtimeConnector, type UpstreamConnector } from './upstream/connect.js';

export interface AppDeps {
  readonly logger?: FastifyBaseLogger;
  readonly now?: () => number;
  readonly connectUpstream?: UpstreamConnector;
  readonly ticketLedger?: UsedTicketLedger;
  readonly startTimeoutMs?: number;
  readonly onCallEnded?: (summary: CallSummary) => void;
}

export interface Bridge {
  readonly app: FastifyInstance;
  readonly calls: ReadonlySet<CallSession>;
}

export async function buildApp(config: Config, deps: AppDeps = {}): Promise<Bridge> {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: { level: config.logLevel } }),
    // Request lines would carry stream tickets in their URLs; the routes log what matters themselves.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    trustProxy: true,
    // Stream tickets (with trace context) are longer than the router's default 100-character parameter limit.
    routerOptions: { maxParamLength: 512 },
  });
  const verifier = new TwilioSignatureVerifier(config.twilio.authToken, config.publicUrl);
  const tickets = new StreamTicketIssuer(config.twilio.authToken, config.ticketTtlSeconds * 1000, deps.ticketLedger);
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
    });
  const calls = new Set<CallSession>();

  await app.register(formbody);
  await app.register(websocket, { options: { maxPayload: config.maxMessageBytes, perMessageDeflate: false } });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready', calls: calls.size }));

  await app.register(voiceWebhook, { verifier, tickets, accountSid: config.twilio.accountSid, now });
  await app.register(mediaStreamRoute, {
    verifier,
    tickets,
    now,
    onCall: (socket, claims, request) => {
      const session = new CallSession(
        { send: (text) => socket.send(text), close: (code, reason) => socket.close(code, reason) },
        claims,
        {
          audioMode: config.audioMode,
          maxOutboundLeadMs: config.maxOutboundLeadMs,
          startTimeoutMs: deps.startTimeoutMs ?? 5000,
          connectUpstream,
          log: request.log,
          now,
          onEnded: (summary) => {
            calls.delete(session);
            deps.onCallEnded?.(summary);
          },
        },
      );
      calls.add(session);
      socket.on('message', (data, isBinary) => session.onTwilioMessage(data, isBinary));
      socket.on('close', (code) => session.onTwilioClose(code));
      // A socket error is followed by 'close'; the session ends there.
      socket.on('error', (err) => request.log.warn({ err: { message: err.message } }, 'Twilio socket error'));
    },
  });

  return { app, calls };
}
