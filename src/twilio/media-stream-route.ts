// Owns `GET /twilio/stream/:ticket`, the Media Streams WebSocket. Before the
// upgrade completes it checks X-Twilio-Signature against the exact wss URL,
// then consumes the single-use ticket; any failure is answered with a plain
// HTTP 401/403 and the socket is destroyed, so no unauthenticated socket is
// ever held. Accepted sockets are handed to `onCall` with the ticket's claims.

import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { TwilioSignatureVerifier } from './signature.js';
import type { StreamTicketClaims, StreamTicketIssuer } from './stream-ticket.js';
import { STREAM_PATH_PREFIX } from './voice-webhook.js';

export interface MediaStreamRouteOptions {
  readonly verifier: TwilioSignatureVerifier;
  readonly tickets: StreamTicketIssuer;
  readonly now: () => number;
  readonly onCall: (socket: WebSocket, claims: StreamTicketClaims, request: FastifyRequest) => void;
  /** As the voice webhook's: true when the address is blocked, and the refusal is then a bare 429 with no log line. */
  readonly onAuthFailure?: (reason: string, ip: string) => boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    streamTicket: StreamTicketClaims | null;
  }
}

export const mediaStreamRoute: FastifyPluginAsync<MediaStreamRouteOptions> = async (app, opts) => {
  app.decorateRequest('streamTicket', null);

  app.get(
    `${STREAM_PATH_PREFIX}:ticket`,
    {
      websocket: true,
      preValidation: async (request, reply) => {
        if (!request.ws) return reply.code(426).header('upgrade', 'websocket').send('Upgrade Required');
        // The ticket in the URL and the signature header are masked by the logger's redaction rules.
        request.log.debug({ url: request.url, headers: request.headers }, 'media stream upgrade received');
        const refuse = (status: 401 | 403, reason: string) => {
          if (opts.onAuthFailure?.(reason, request.ip) === true) return reply.code(429).header('connection', 'close').send();
          request.log.warn({ reason }, 'refused media stream upgrade');
          return reply.code(status).send();
        };
        // The path is checked as received: Twilio signs the URL exactly as it appeared in the TwiML.
        const path = request.url;
        const signature = request.headers['x-twilio-signature'];
        const check = opts.verifier.checkUpgrade(typeof signature === 'string' ? signature : undefined, path);
        if (!check.ok) return refuse(check.reason === 'missing' ? 401 : 403, `upgrade_signature_${check.reason}`);
        // Only a signed request may spend a ticket, so a forger cannot burn a real caller's ticket.
        const ticket = (request.params as { ticket?: string }).ticket ?? '';
        const result = opts.tickets.consume(ticket, opts.now());
        if (!result.ok) return refuse(403, `ticket_${result.reason}`);
        request.streamTicket = result.claims;
      },
    },
    (socket, request) => {
      const claims = request.streamTicket;
      if (claims === null) return socket.close(1011, 'no ticket');
      opts.onCall(socket, claims, request);
    },
  );
};
