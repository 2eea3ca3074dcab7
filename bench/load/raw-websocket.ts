// Bench-only: the thinnest WebSocket endpoint that speaks RFC 6455 text
// frames well enough to carry the load generator's traffic, on both sides
// (Twilio's client sockets and the realtime peer's server sockets). The `ws`
// library spends more per message than the bridge's own media work (a
// Writable stream per socket, an event per message, string→Buffer copies,
// masking byte by byte in JS); at hundreds of calls on one core that made the
// generator, not the bridge, the limit. Here a message is one Buffer built in
// one pass and written once; received frames are handed over as views,
// unmasked only when the reader asks. Not a general WebSocket: no
// fragmentation, no extensions, no UTF-8 validation.

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export type MessageHandler = (payload: Buffer, mask: number) => void;

/**
 * One side of an upgraded connection. Client sockets mask with key 0 (legal,
 * and XOR with zero leaves the payload as is). `onMessage` gets each text or
 * binary payload as a view and the 32-bit mask key the peer used (0 when
 * unmasked); `unmask` copies it out when the content matters.
 */
export class RawWebSocket {
  onMessage: MessageHandler = () => {};
  onClose: () => void = () => {};
  #buffer: Buffer | undefined;
  #open = true;

  constructor(
    private readonly socket: Duplex & { setNoDelay?: (v: boolean) => void },
    head: Buffer,
    private readonly client: boolean,
  ) {
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('close', () => {
      if (!this.#open) return;
      this.#open = false;
      this.onClose();
    });
    socket.on('error', () => {});
    if (head.length > 0) queueMicrotask(() => this.#onData(head));
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Sends an ASCII text message (everything the generator sends is ASCII JSON). */
  send(text: string): void {
    if (!this.#open) return;
    const n = text.length;
    const hlen = (n < 126 ? 2 : n < 65536 ? 4 : 10) + (this.client ? 4 : 0);
    const frame = Buffer.allocUnsafe(hlen + n);
    this.#header(frame, OP_TEXT, n);
    frame.write(text, hlen, 'latin1');
    this.socket.write(frame);
  }

  /** Batch several sends into one write per socket. */
  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  close(code = 1000): void {
    if (!this.#open) return;
    this.#control(OP_CLOSE, Buffer.from([code >> 8, code & 0xff]));
    this.#open = false;
    this.socket.end();
    this.onClose();
  }

  terminate(): void {
    const wasOpen = this.#open;
    this.#open = false;
    this.socket.destroy();
    if (wasOpen) this.onClose();
  }

  #header(frame: Buffer, opcode: number, n: number): void {
    frame[0] = 0x80 | opcode;
    const maskBit = this.client ? 0x80 : 0;
    let o: number;
    if (n < 126) {
      frame[1] = maskBit | n;
      o = 2;
    } else if (n < 65536) {
      frame[1] = maskBit | 126;
      frame.writeUInt16BE(n, 2);
      o = 4;
    } else {
      frame[1] = maskBit | 127;
      frame.writeUInt32BE(0, 2);
      frame.writeUInt32BE(n, 6);
      o = 10;
    }
    if (this.client) frame.writeUInt32BE(0, o);
  }

  #control(opcode: number, payload: Buffer): void {
    const hlen = 2 + (this.client ? 4 : 0);
    const frame = Buffer.allocUnsafe(hlen + payload.length);
    this.#header(frame, opcode, payload.length);
    payload.copy(frame, hlen);
    this.socket.write(frame);
  }

  #onData(chunk: Buffer): void {
    let buf = this.#buffer === undefined ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#buffer = undefined;
    let o = 0;
    while (buf.length - o >= 2) {
      const b0 = buf[o]!;
      const b1 = buf[o + 1]!;
      let len = b1 & 0x7f;
      let p = o + 2;
      if (len === 126) {
        if (buf.length - p < 2) break;
        len = buf.readUInt16BE(p);
        p += 2;
      } else if (len === 127) {
        if (buf.length - p < 8) break;
        len = buf.readUInt32BE(p + 4);
        p += 8;
      }
      let mask = 0;
      if (b1 & 0x80) {
        if (buf.length - p < 4) break;
        mask = buf.readUInt32BE(p) | 0;
        p += 4;
      }
      if (buf.length - p < len) break;
      const payload = buf.subarray(p, p + len);
      o = p + len;
      const opcode = b0 & 0x0f;
      if (opcode === OP_TEXT || opcode === OP_BINARY) this.onMessage(payload, mask);
      else if (opcode === OP_PING) this.#control(OP_PONG, unmask(payload, mask));
      else if (opcode === OP_CLOSE) {
        if (this.#open) {
          this.#control(OP_CLOSE, unmask(payload, mask).subarray(0, 2));
          this.#open = false;
          this.socket.end();
          this.onClose();
        }
        return;
      }
      if (!this.#open) return;
    }
    if (o < buf.length) this.#buffer = Buffer.from(buf.subarray(o)); // keep a partial frame (copied: the chunk is reused)
  }
}

/** A copy of `payload` with the mask removed (a view when unmasked). */
export function unmask(payload: Buffer, mask: number): Buffer {
  if (mask === 0) return payload;
  const out = Buffer.allocUnsafe(payload.length);
  const m = [(mask >>> 24) & 0xff, (mask >>> 16) & 0xff, (mask >>> 8) & 0xff, mask & 0xff];
  for (let i = 0; i < payload.length; i++) out[i] = payload[i]! ^ m[i & 3]!;
  return out;
}

/** True when the first bytes of the (masked) payload equal `prefix`, unmasking only those. */
export function startsWith(payload: Buffer, mask: number, prefix: Buffer): boolean {
  const n = prefix.length;
  if (payload.length < n) return false;
  if (mask === 0) return payload.compare(prefix, 0, n, 0, n) === 0;
  for (let i = 0; i < n; i++) {
    const k = (mask >>> (24 - 8 * (i & 3))) & 0xff;
    if ((payload[i]! ^ k) !== prefix[i]) return false;
  }
  return true;
}

/** Client upgrade: resolves with the open socket, or rejects with the HTTP status. */
export function connectRaw(url: string, headers: Readonly<Record<string, string>>, timeoutMs = 10_000): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const req = http.request(url.replace(/^ws/, 'http'), {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
      timeout: timeoutMs,
    });
    req.once('upgrade', (_res, socket, head) => resolve(new RawWebSocket(socket, head, true)));
    req.once('response', (res) => {
      res.resume();
      reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
    });
    req.once('timeout', () => req.destroy(new Error('upgrade timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** Server side: completes the handshake on an 'upgrade' request. */
export function acceptRaw(req: http.IncomingMessage, socket: Duplex, head: Buffer): RawWebSocket {
  const key = req.headers['sec-websocket-key'] ?? '';
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  return new RawWebSocket(socket, head, false);
}
