// Owns one WebSocket to the realtime AI server: opening it with a short-lived
// credential, handing parsed events up, sending client events down, and
// noticing when the server has gone silent (keepalive), which it reports as a
// close like any other. It knows nothing of calls, reconnects or audio.
// Never logs the credential.

import WebSocket from 'ws';
import type { Socket } from 'node:net';
import { holdUntilBatchEnds } from '../net/write-coalescer.js';
import { parseServerEvent, type ServerEvent } from './server-events.js';

export type ConnectFailure =
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'network'; readonly message: string }
  /** The socket opened but closed before the session was configured. */
  | { readonly kind: 'closed'; readonly code: number; readonly reason: string }
  /** The server answered the session configuration with an error: retrying cannot help. */
  | { readonly kind: 'config_rejected'; readonly code: string }
  /** The caller gave up first (the call ended): nobody waits for this session any more. */
  | { readonly kind: 'abandoned' };

export class RealtimeConnectError extends Error {
  readonly code = 'BRIDGE_ERR_UPSTREAM_CONNECT';
  constructor(readonly failure: ConnectFailure) {
    super(describe(failure));
    this.name = 'RealtimeConnectError';
  }
}

function describe(failure: ConnectFailure): string {
  switch (failure.kind) {
    case 'http':
      return `upstream refused the upgrade with HTTP ${failure.status}`;
    case 'timeout':
      return 'upstream connect timed out';
    case 'network':
      return `upstream unreachable: ${failure.message}`;
    case 'closed':
      return `AI session closed during setup (${failure.code}${failure.reason ? ` ${failure.reason}` : ''})`;
    case 'config_rejected':
      return `AI service rejected the session configuration (${failure.code})`;
    case 'abandoned':
      return 'upstream connect abandoned';
  }
}

export interface RealtimeConnectOptions {
  /** http(s) base; the socket uses ws(s) on the same host. */
  readonly baseUrl: string;
  readonly model: string;
  /** A short-lived `ek_…` credential. */
  readonly credential: string;
  readonly timeoutMs: number;
  /** Largest server message accepted. */
  readonly maxPayload?: number;
  /** Liveness check of the open socket; DEFAULT_KEEPALIVE unless given. */
  readonly keepalive?: KeepaliveSettings;
  /** Aborted: the upgrade is dropped wherever it is, and open rejects with an `abandoned` failure. */
  readonly signal?: AbortSignal;
}

export interface KeepaliveSettings {
  /** Period of the connection's one check timer. */
  readonly checkMs: number;
  /** A socket that has received nothing for this long is sent a ping. */
  readonly quietMs: number;
  /** Nothing at all received this long after that ping: the connection is lost. */
  readonly deadlineMs: number;
}

/**
 * Any inbound frame (event, pong, ping) proves the server alive, so a ping goes out only once the socket has
 * been quiet for 2 s: a speaking session never pings, and a quiet one pings about every 3 s (a 6-byte frame).
 * A dead path or hung server is then noticed 5 to 6 s after its last frame (quiet + at most one check +
 * deadline), about the connect timeout; the first reconnect goes out at once and comfort audio starts 0.5 s
 * into the outage, so a silent link costs the caller about 6 s of dead air at worst, not the rest of the call.
 * A 3 s pong deadline is ten or more round trips to the service plus room for a GC pause or a second of our
 * own audio queued ahead of the ping; a false alarm costs one reconnect with replay (about a second), less
 * than the dead air a longer deadline allows. A server that stops reading also stops ponging, so this may
 * fire before the call's backlog check (256 KB, then 3 s) does; both end in the same reconnect.
 * Production has no config knob for these yet: they are named constants here.
 */
export const DEFAULT_KEEPALIVE: KeepaliveSettings = Object.freeze({ checkMs: 1000, quietMs: 2000, deadlineMs: 3000 });

/** The close reason reported when the keepalive gives up on a socket (ws reports the close itself as 1006). */
export const KEEPALIVE_TIMEOUT_REASON = 'keepalive timeout';

export interface RealtimeHandlers {
  onEvent(event: ServerEvent): void;
  /** A message that could not be parsed; the connection stays open. */
  onMalformed(detail: string): void;
  onClose(code: number, reason: string): void;
}

export function realtimeUrl(baseUrl: string, model: string): string {
  const url = new URL('/v1/realtime', baseUrl.replace(/^http/, 'ws'));
  url.searchParams.set('model', model);
  return url.toString();
}

/**
 * The bytes of a ws message. With ws's default binaryType ('nodebuffer') a text frame is one Buffer, which the parser
 * reads audio deltas from directly; the other shapes ws can deliver are made into one rather than stringified.
 */
export function rawDataBytes(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class RealtimeConnection {
  #closed = false;
  /** Set by every inbound frame, cleared by the check timer: a field store, not a clock read or timer, per message. */
  #heard = true;
  /** When the check timer last saw the flag set (or the socket opened). */
  #quietSince = 0;
  /** When the outstanding ping went out; undefined while none is. */
  #pingSentAt: number | undefined;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  /** Why this side dropped the socket, reported in place of the (empty) reason of its 1006 close. */
  #lostReason: string | undefined;

  private constructor(
    private readonly ws: WebSocket,
    /** The TCP (or TLS) socket ws writes to, from the upgrade response: sends are batched on it. */
    private readonly tcp: Socket | undefined,
    private readonly keepalive: KeepaliveSettings,
  ) {}

  static open(opts: RealtimeConnectOptions, handlers: RealtimeHandlers): Promise<RealtimeConnection> {
    if (opts.signal?.aborted === true) return Promise.reject(new RealtimeConnectError({ kind: 'abandoned' }));
    return new Promise((resolve, reject) => {
      // No OpenAI-Beta header: the GA server closes beta-shaped sessions with 4000.
      const ws = new WebSocket(realtimeUrl(opts.baseUrl, opts.model), {
        headers: { authorization: `Bearer ${opts.credential}` },
        handshakeTimeout: opts.timeoutMs,
        maxPayload: opts.maxPayload ?? 16 * 1024 * 1024,
        perMessageDeflate: false,
        // Every message is JSON-parsed at once: a separate UTF-8 pass over each audio delta is wasted work.
        skipUTF8Validation: true,
      });
      let tcp: Socket | undefined;
      ws.once('upgrade', (res) => { tcp = res.socket as Socket; });
      let settled = false;
      const abandon = (): void => fail({ kind: 'abandoned' });
      const fail = (failure: ConnectFailure): void => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', abandon);
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
        reject(new RealtimeConnectError(failure));
      };
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        fail({ kind: 'http', status: res.statusCode ?? 0 });
      });
      ws.once('error', (err: Error) => {
        fail(/timeout/i.test(err.message) ? { kind: 'timeout' } : { kind: 'network', message: err.message.slice(0, 120) });
      });
      opts.signal?.addEventListener('abort', abandon, { once: true });
      ws.once('open', () => {
        settled = true;
        opts.signal?.removeEventListener('abort', abandon);
        ws.removeAllListeners();
        const connection = new RealtimeConnection(ws, tcp, opts.keepalive ?? DEFAULT_KEEPALIVE);
        connection.#attach(handlers);
        resolve(connection);
      });
    });
  }

  #attach(handlers: RealtimeHandlers): void {
    this.ws.on('message', (data, isBinary) => {
      this.#heard = true;
      if (isBinary) return handlers.onMalformed('binary frame');
      const parsed = parseServerEvent(rawDataBytes(data));
      if (parsed.ok) handlers.onEvent(parsed.event);
      else handlers.onMalformed(parsed.detail);
    });
    // Errors are always followed by 'close', which carries the outcome.
    this.ws.on('error', () => {});
    this.ws.on('pong', () => { this.#heard = true; });
    this.ws.on('ping', () => { this.#heard = true; });
    this.ws.on('close', (code, reason) => {
      this.#closed = true;
      this.#stopKeepalive();
      handlers.onClose(code, this.#lostReason ?? reason.toString().slice(0, 120));
    });
    this.#quietSince = performance.now();
    this.#keepaliveTimer = setInterval(() => this.#checkAlive(), this.keepalive.checkMs);
    // A connection never keeps the process alive by itself.
    this.#keepaliveTimer.unref();
  }

  #checkAlive(): void {
    const now = performance.now();
    if (this.#heard) {
      this.#heard = false;
      this.#quietSince = now;
      this.#pingSentAt = undefined;
      return;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.#pingSentAt === undefined) {
      if (now - this.#quietSince < this.keepalive.quietMs) return;
      this.#pingSentAt = now;
      holdUntilBatchEnds(this.tcp);
      this.ws.ping();
      return;
    }
    if (now - this.#pingSentAt < this.keepalive.deadlineMs) return;
    // Silent past the deadline: a dropped path or a hung server. No close handshake (it would wait on the same
    // silence); the 'close' that follows reports this reason, so the link treats it like any other drop.
    this.#lostReason = KEEPALIVE_TIMEOUT_REASON;
    this.#stopKeepalive();
    this.ws.terminate();
  }

  #stopKeepalive(): void {
    clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
  }

  get isOpen(): boolean {
    return !this.#closed && this.ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in the socket but not yet handed to the kernel: grows when the server reads slowly. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(text: string): boolean {
    if (!this.isOpen) return false;
    holdUntilBatchEnds(this.tcp);
    this.ws.send(text);
    return true;
  }

  close(code = 1000, reason = 'call ended'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopKeepalive();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    else this.ws.terminate();
  }
}
