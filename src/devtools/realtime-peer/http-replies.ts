// Owns the raw HTTP answers the peer gives: JSON errors in OpenAI's
// `{"error":{message,type,param,code}}` shape, bare status lines written on
// an upgrade socket, and TCP resets. No decisions about when to use them.

import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ApiError {
  readonly type: string;
  readonly code: string | null;
  readonly message: string;
  readonly param?: string | null;
}

export function errorBody(e: ApiError): unknown {
  return { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Writes a bare HTTP response on an upgrade socket and ends it. */
export function answerUpgrade(socket: Duplex, status: number, e: ApiError): void {
  const body = JSON.stringify(errorBody(e));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** A TCP RST where the platform allows it (the client sees ECONNRESET), else a plain destroy. */
export function resetSocket(socket: Duplex): void {
  const s = socket as Partial<Socket> & Duplex;
  if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else socket.destroy();
}
