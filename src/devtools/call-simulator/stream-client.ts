// Owns the Media Streams WebSocket upgrade as Twilio performs it: the wss URL
// from the TwiML is dialled on the bridge's loopback address with the same
// path, carrying X-Twilio-Signature over the exact wss URL and Twilio's
// User-Agent. A refused upgrade resolves with its HTTP status instead of
// throwing, so tests can assert on 401/403.

import WebSocket from 'ws';
import { signStreamUrl } from './signing.js';

export const TWILIO_WS_USER_AGENT = 'Twilio.TmeWs/1.0';

export interface OpenStreamOptions {
  /** Where the bridge really listens, e.g. http://127.0.0.1:8080 (ws:// also accepted). */
  readonly bridgeUrl: string;
  /** The wss:// URL exactly as written in the TwiML; its path is dialled on bridgeUrl (a query string is dropped, as Twilio does). */
  readonly streamUrl: string;
  readonly authToken: string;
  /** Replaces the computed signature; `null` sends none. */
  readonly signature?: string | null;
  /** Extra or replacement upgrade headers. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly handshakeTimeoutMs?: number;
}

export interface OpenStreamResult {
  /** The open socket, when the upgrade succeeded (status 101). */
  readonly ws?: WebSocket;
  /** 101 on success, else the HTTP status the bridge answered. */
  readonly upgradeStatus: number;
  /** Body of a refused upgrade (truncated to 2 kB). */
  readonly upgradeBody?: string;
}

/**
 * ws://host:port of the bridge + path of the public wss URL. The query string
 * is dropped because Twilio drops it; the signature still covers the URL as
 * written in the TwiML.
 */
export function loopbackStreamUrl(bridgeUrl: string, streamUrl: string): string {
  const bridge = new URL(bridgeUrl);
  const stream = new URL(streamUrl);
  const scheme = bridge.protocol === 'https:' || bridge.protocol === 'wss:' ? 'wss:' : 'ws:';
  return `${scheme}//${bridge.host}${stream.pathname}`;
}

export function openStream(opts: OpenStreamOptions): Promise<OpenStreamResult> {
  const signature = opts.signature === null ? undefined : (opts.signature ?? signStreamUrl(opts.authToken, opts.streamUrl));
  const headers: Record<string, string> = {
    'user-agent': TWILIO_WS_USER_AGENT,
    ...(signature !== undefined ? { 'x-twilio-signature': signature } : {}),
    ...opts.headers,
  };
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(loopbackStreamUrl(opts.bridgeUrl, opts.streamUrl), {
      headers,
      // Twilio does not negotiate compression; neither do we, so frame sizes match production.
      perMessageDeflate: false,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    });
    let settled = false;
    ws.once('open', () => {
      settled = true;
      resolve({ ws, upgradeStatus: 101 });
    });
    ws.once('unexpected-response', (req, res) => {
      settled = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 2048) chunks.push(c);
        size += c.length;
      });
      const done = (): void => {
        // The handshake is over; abort it without surfacing ws's own error for the abort.
        ws.on('error', () => {});
        req.destroy();
        resolve({ ws: undefined, upgradeStatus: res.statusCode ?? 0, upgradeBody: Buffer.concat(chunks).toString('utf8').slice(0, 2048) });
      };
      res.once('end', done);
      res.once('error', done);
    });
    ws.once('error', (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
  });
}
