// Owns one WebSocket to the realtime AI server: opening it with a short-lived
// credential, handing parsed events up, and sending client events down.
// It knows nothing of calls, reconnects or audio. Never logs the credential.

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
  | { readonly kind: 'config_rejected'; readonly code: string };

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
}

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

  private constructor(
    private readonly ws: WebSocket,
    /** The TCP (or TLS) socket ws writes to, from the upgrade response: sends are batched on it. */
    private readonly tcp: Socket | undefined,
  ) {}

  static open(opts: RealtimeConnectOptions, handlers: RealtimeHandlers): Promise<RealtimeConnection> {
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
      const fail = (failure: ConnectFailure): void => {
        if (settled) return;
        settled = true;
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
      ws.once('open', () => {
        settled = true;
        ws.removeAllListeners();
        const connection = new RealtimeConnection(ws, tcp);
        connection.#attach(handlers);
        resolve(connection);
      });
    });
  }

  #attach(handlers: RealtimeHandlers): void {
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return handlers.onMalformed('binary frame');
      const parsed = parseServerEvent(rawDataBytes(data));
      if (parsed.ok) handlers.onEvent(parsed.event);
      else handlers.onMalformed(parsed.detail);
    });
    // Errors are always followed by 'close', which carries the outcome.
    this.ws.on('error', () => {});
    this.ws.on('close', (code, reason) => {
      this.#closed = true;
      handlers.onClose(code, reason.toString().slice(0, 120));
    });
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
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    else this.ws.terminate();
  }
}
