// Owns stream tickets: the per-call, single-use, short-lived value carried in
// the Media Streams URL path. A ticket is issued only in TwiML answered to a
// signed webhook, is bound to that webhook's CallSid, and carries the call's
// trace context so the stream can join the webhook's trace.
//
// Tickets are self-contained and MAC'd (HMAC-SHA256 under a key derived from
// the Twilio auth token), so any process of the fleet can verify one; the
// single-use ledger is per process (see UsedTicketLedger). Never logs a ticket.

import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export interface StreamTicketClaims {
  readonly callSid: string;
  /** Unix milliseconds after which the ticket is refused. */
  readonly expiresAt: number;
  /** W3C traceparent of the call's root span, when tracing is on. */
  readonly traceparent?: string;
}

export type TicketRefusal = 'malformed' | 'forged' | 'expired' | 'reused';
export type TicketCheck = { ok: true; claims: StreamTicketClaims } | { ok: false; reason: TicketRefusal };

/**
 * Remembers consumed tickets until they expire. In-process by default; a fleet
 * that cannot keep a call's webhook and stream on one process can supply a
 * shared implementation.
 */
export interface UsedTicketLedger {
  /** Records the nonce; returns false if it was already recorded. */
  claim(nonce: string, expiresAt: number, now: number): boolean;
}

export class InMemoryTicketLedger implements UsedTicketLedger {
  readonly #used = new Map<string, number>();
  #nextSweep = 0;

  claim(nonce: string, expiresAt: number, now: number): boolean {
    if (now >= this.#nextSweep) this.#sweep(now);
    if (this.#used.has(nonce)) return false;
    this.#used.set(nonce, expiresAt);
    return true;
  }

  get size(): number {
    return this.#used.size;
  }

  // Expired entries can never be replayed (expiry is checked first), so they are dropped.
  #sweep(now: number): void {
    for (const [nonce, expiresAt] of this.#used) if (expiresAt < now) this.#used.delete(nonce);
    this.#nextSweep = now + 10_000;
  }
}

const MAC_BYTES = 16;
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const TICKET_SHAPE = /^[A-Za-z0-9_-]{16,400}\.[A-Za-z0-9_-]{22}$/;

export class StreamTicketIssuer {
  readonly #key: Buffer;

  constructor(
    authToken: string,
    private readonly ttlMs: number,
    private readonly ledger: UsedTicketLedger = new InMemoryTicketLedger(),
  ) {
    this.#key = Buffer.from(hkdfSync('sha256', authToken, 'twilio-realtime-bridge', 'stream-ticket-v1', 32));
  }

  issue(callSid: string, now: number, traceparent?: string): string {
    const parts = [callSid, String(now + this.ttlMs), randomBytes(12).toString('base64url')];
    if (traceparent !== undefined) parts.push(traceparent);
    const body = Buffer.from(parts.join('|')).toString('base64url');
    return `${body}.${this.#mac(body)}`;
  }

  /** Verifies and consumes a ticket: a second call with the same ticket is refused. */
  consume(ticket: string, now: number): TicketCheck {
    const claims = this.#verify(ticket);
    if (!claims.ok) return claims;
    if (now > claims.claims.expiresAt) return { ok: false, reason: 'expired' };
    if (!this.ledger.claim(claims.nonce, claims.claims.expiresAt, now)) return { ok: false, reason: 'reused' };
    return { ok: true, claims: claims.claims };
  }

  #verify(ticket: string): { ok: true; claims: StreamTicketClaims; nonce: string } | { ok: false; reason: TicketRefusal } {
    if (!TICKET_SHAPE.test(ticket)) return { ok: false, reason: 'malformed' };
    const dot = ticket.indexOf('.');
    const body = ticket.slice(0, dot);
    const given = Buffer.from(ticket.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.#mac(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' };
    // Past the MAC the content is ours, but it is still checked field by field.
    const fields = Buffer.from(body, 'base64url').toString('utf8').split('|');
    const [callSid, expiry, nonce, traceparent] = fields;
    if (fields.length > 4 || !callSid || !CALL_SID.test(callSid) || !expiry || !/^\d+$/.test(expiry) || !nonce) {
      return { ok: false, reason: 'malformed' };
    }
    if (traceparent !== undefined && !TRACEPARENT.test(traceparent)) return { ok: false, reason: 'malformed' };
    const claims: StreamTicketClaims =
      traceparent === undefined ? { callSid, expiresAt: Number(expiry) } : { callSid, expiresAt: Number(expiry), traceparent };
    return { ok: true, claims, nonce };
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#key).update(body).digest().subarray(0, MAC_BYTES).toString('base64url');
  }
}
