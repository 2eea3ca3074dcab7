// Owns a minimal realtime *client* for exercising the peer in tests: it
// mints tokens over HTTP, opens sockets, collects every server event and
// lets a test await the next event of a type. Deliberately naive (no
// pacing, no reconnects): it is not the bridge and must not grow into one.

import alawmulaw from 'alawmulaw';
import WebSocket from 'ws';
import type { RealtimePeer } from './peer.js';

export type ServerEventJson = Record<string, unknown> & { type: string };

export class RealtimeTestClient {
  readonly events: ServerEventJson[] = [];
  readonly ws: WebSocket;
  /** Resolves on 101; rejects with `status` set on an HTTP answer, or with the socket error. */
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters: { type: string; pred: (e: ServerEventJson) => boolean; resolve: (e: ServerEventJson) => void }[] = [];
  private readonly taken = new Set<ServerEventJson>();

  constructor(url: string, headers: Record<string, string>, opts: { handshakeTimeoutMs?: number } = {}) {
    this.ws = new WebSocket(url, { headers, ...(opts.handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: opts.handshakeTimeoutMs }) });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
        res.resume();
        this.ws.terminate();
      });
      this.ws.once('error', reject);
    });
    // Tests that expect a refusal await `opened` themselves; others need no unhandled rejection.
    this.opened.catch(() => {});
    this.ws.on('error', () => {});
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data: Buffer) => {
      const ev = JSON.parse(data.toString('utf8')) as ServerEventJson;
      this.events.push(ev);
      const w = this.waiters.find((x) => x.type === ev.type && x.pred(ev));
      if (w !== undefined) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(ev);
      }
    });
  }

  send(ev: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(ev));
  }

  /** The oldest event of `type` matching `pred` not yet returned by next(), waiting for it if needed. */
  next(type: string, pred: (e: ServerEventJson) => boolean = () => true, timeoutMs = 4000): Promise<ServerEventJson> {
    const ready = this.events.find((e) => e.type === type && !this.taken.has(e) && pred(e));
    if (ready !== undefined) {
      this.taken.add(ready);
      return Promise.resolve(ready);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${type} within ${timeoutMs} ms; got ${this.events.map((e) => e.type).join(', ')}`));
      }, timeoutMs);
      const waiter = {
        type,
        pred: (e: ServerEventJson) => !this.taken.has(e) && pred(e),
        resolve: (e: ServerEventJson) => {
          clearTimeout(timer);
          this.taken.add(e);
          resolve(e);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** The `error` object of the next error event. */
  async nextError(timeoutMs?: number): Promise<{ type: string; code: string | null; message: string; param: string | null; event_id: string | null }> {
    const e = await this.next('error', undefined, timeoutMs);
    return e['error'] as { type: string; code: string | null; message: string; param: string | null; event_id: string | null };
  }

  ofType(type: string): ServerEventJson[] {
    return this.events.filter((e) => e.type === type);
  }

  /** Cuts the socket (tests do not need a polite close). */
  terminate(): void {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

/** Opens a socket to the peer's realtime endpoint; `auth` null sends no Authorization header. */
export function connectToPeer(peer: RealtimePeer, auth: string | null, opts: { headers?: Record<string, string>; model?: string; handshakeTimeoutMs?: number } = {}): RealtimeTestClient {
  const headers: Record<string, string> = { ...opts.headers };
  if (auth !== null) headers['Authorization'] = `Bearer ${auth}`;
  const model = opts.model ?? 'gpt-realtime';
  return new RealtimeTestClient(`${peer.realtimeUrl}?model=${encodeURIComponent(model)}`, headers, opts.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: opts.handshakeTimeoutMs });
}

/** POSTs to the token endpoint; `key` null sends no Authorization header. */
export async function mintToken(
  peer: RealtimePeer,
  key: string | null,
  body: unknown = { expires_after: { anchor: 'created_at', seconds: 600 }, session: { type: 'realtime' } },
  signal?: AbortSignal,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  const res = await fetch(`${peer.baseUrl}/v1/realtime/client_secrets`, { method: 'POST', headers, body: JSON.stringify(body), ...(signal === undefined ? {} : { signal }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * Appends 8 kHz speech as 20 ms input_audio_buffer.append events in the
 * session's input format, then `silenceMs` of silence, all at once (the
 * peer's VAD counts audio, not wall time). For 'pcm' the 8 kHz samples are
 * repeated 3x: crude, but an energy VAD does not care.
 */
export function sendSpeech(client: RealtimeTestClient, samples8k: Int16Array, format: 'pcmu' | 'pcm', silenceMs = 400): void {
  const all = new Int16Array(samples8k.length + silenceMs * 8);
  all.set(samples8k);
  for (let i = 0; i < all.length; i += 160) {
    const frame = all.subarray(i, Math.min(all.length, i + 160));
    let bytes: Buffer;
    if (format === 'pcmu') bytes = Buffer.from(alawmulaw.mulaw.encode(frame));
    else {
      bytes = Buffer.alloc(frame.length * 6);
      for (let j = 0; j < frame.length; j++) for (let k = 0; k < 3; k++) bytes.writeInt16LE(frame[j]!, 6 * j + 2 * k);
    }
    client.send({ type: 'input_audio_buffer.append', audio: bytes.toString('base64') });
  }
}
