// Owns the peer's network edge: one node:http server carrying the token
// endpoint (POST /v1/realtime/client_secrets) and the WebSocket upgrade
// (/v1/realtime), the credential rules applied to both, and every TCP socket
// so close() leaves nothing behind. Plain node:http rather than fastify
// because the faults need the raw upgrade socket (reset, hang, bare status
// lines). Protocol after the upgrade is session.ts's job.

import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FaultAction, FaultMoment, PeerFaults, SocketControl } from './faults.js';
import type { CredentialRecord, Emit, PeerEventMap, PeerEventName, TokenRequestRecord, UpgradeOutcome, UpgradeRecord } from './recording.js';
import { SessionRecord } from './recording.js';
import { RealtimeSession, type SessionDeps } from './session.js';
import { applySessionUpdate, defaultSessionConfig, sessionToWire, type SessionConfig } from './session-config.js';
import { DEFAULT_TOKEN_SECONDS, MAX_TOKEN_SECONDS, MIN_TOKEN_SECONDS, type TokenStore } from './token-store.js';

export const REALTIME_PATH = '/v1/realtime';
export const CLIENT_SECRETS_PATH = '/v1/realtime/client_secrets';
const MAX_BODY_BYTES = 1 << 20;

export interface ServerContext {
  readonly tokens: TokenStore<SessionConfig>;
  readonly faults: PeerFaults;
  readonly emit: Emit;
  readonly tokenRequests: TokenRequestRecord[];
  readonly upgrades: UpgradeRecord[];
  readonly sessions: SessionRecord[];
  readonly defaultModel: string;
  /** Wall clock in ms (shared with the token store so a fake clock ages both). */
  readonly now: () => number;
  readonly maxPayloadBytes: number;
  /** Everything a RealtimeSession needs besides its record, config, transport and emit. */
  readonly sessionDeps: Omit<SessionDeps, 'record' | 'config' | 'transport' | 'emit' | 'expiresAt'>;
}

interface ApiError {
  readonly type: string;
  readonly code: string | null;
  readonly message: string;
  readonly param?: string | null;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function errorBody(e: ApiError): unknown {
  return { error: { message: e.message, type: e.type, param: e.param ?? null, code: e.code } };
}

/** Writes a bare HTTP response on an upgrade socket and ends it. */
function answerUpgrade(socket: Duplex, status: number, e: ApiError): void {
  const body = JSON.stringify(errorBody(e));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** A TCP RST where the platform allows it (the client sees ECONNRESET), else a plain destroy. */
function resetSocket(socket: Duplex): void {
  const s = socket as Partial<Socket> & Duplex;
  if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else socket.destroy();
}

function bearer(req: IncomingMessage): string | null | 'malformed' {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m === null ? 'malformed' : m[1]!;
}

/** Headers for the record, with Authorization reduced to the kind of credential. */
function recordHeaders(req: IncomingMessage, credential: CredentialRecord): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = { ...req.headers };
  if (out['authorization'] !== undefined) out['authorization'] = `Bearer <${credential.kind}>`;
  return out;
}

const MOMENT_OF: Partial<Record<PeerEventName, FaultMoment>> = { speechStarted: 'speech', responseAudio: 'response', toolCall: 'toolCall' };

export class PeerServer {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly tcp = new Set<Duplex>();
  private readonly controls: SocketControlImpl[] = [];
  private closing = false;

  constructor(private readonly ctx: ServerContext) {
    this.http = createServer((req, res) => this.onRequest(req, res));
    this.http.on('connection', (s: Socket) => this.track(s));
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: ctx.maxPayloadBytes });
  }

  /** Live and past sockets, for the fault controls. */
  get sockets(): readonly SocketControl[] {
    return this.controls;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        const addr = this.http.address();
        resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
      });
    });
  }

  /** Closes every session (1001), then cuts whatever is left, stalled requests and hung upgrades included. */
  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.controls) c.shutdown();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    // Give close frames a moment to leave, then cut every TCP socket.
    await new Promise((r) => setTimeout(r, 20));
    for (const s of this.tcp) s.destroy();
    this.http.closeAllConnections();
    this.wss.close();
    await closed;
  }

  private track(s: Duplex): void {
    this.tcp.add(s);
    s.once('close', () => this.tcp.delete(s));
  }

  private classify(value: string | null | 'malformed'): CredentialRecord {
    if (value === null) return { kind: 'none' };
    if (value === 'malformed') return { kind: 'malformed' };
    const check = this.ctx.tokens.check(value);
    switch (check.kind) {
      case 'apiKey':
      case 'unknown':
        return { kind: check.kind };
      case 'ephemeral':
      case 'expired':
        return { kind: check.kind, token: check.token.value };
    }
  }

  // ---- token endpoint ----

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://peer').pathname;
    if (path !== CLIENT_SECRETS_PATH) {
      return sendJson(res, 404, errorBody({ type: 'invalid_request_error', code: 'not_found', message: `Unknown request URL: ${req.method} ${path}.` }));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => this.onTokenRequest(req, res, path, tooLarge ? null : Buffer.concat(chunks).toString('utf8'), tooLarge));
    req.on('error', () => res.destroy());
  }

  private onTokenRequest(req: IncomingMessage, res: ServerResponse, path: string, text: string | null, tooLarge: boolean): void {
    let body: unknown = null;
    let badJson = false;
    if (text !== null && text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        badJson = true;
      }
    }
    const credential = this.classify(bearer(req));
    const record: TokenRequestRecord = { at: performance.now(), method: req.method ?? '', path, credential, authorization: credential.kind, body, status: null };
    this.ctx.tokenRequests.push(record);
    const answer = (status: number, payload: unknown): void => {
      record.status = status;
      sendJson(res, status, payload);
      this.ctx.emit('tokenRequest', record);
    };

    const failure = this.ctx.faults.takeTokenFailure();
    if (failure !== undefined) {
      if (failure === 'stall') {
        // Never answered; close() cuts it.
        record.status = 'stalled';
        this.ctx.emit('tokenRequest', record);
        return;
      }
      if (failure === 'reset') {
        record.status = 'reset';
        resetSocket(req.socket);
        this.ctx.emit('tokenRequest', record);
        return;
      }
      return answer(failure.status, errorBody({ type: 'server_error', code: null, message: 'The server had an error while processing your request (injected by the realtime peer).' }));
    }
    if (req.method !== 'POST') {
      return answer(405, errorBody({ type: 'invalid_request_error', code: 'method_not_allowed', message: `Method ${req.method} not allowed; use POST.` }));
    }
    if (credential.kind === 'none' || credential.kind === 'malformed') {
      return answer(401, errorBody({ type: 'invalid_request_error', code: 'missing_api_key', message: "You didn't provide an API key. Provide it in the Authorization header using Bearer auth." }));
    }
    // Client secrets cannot mint client secrets; only the long-lived key can.
    if (credential.kind !== 'apiKey') {
      return answer(401, errorBody({ type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided.' }));
    }
    if (tooLarge) return answer(413, errorBody({ type: 'invalid_request_error', code: 'request_too_large', message: 'Request body too large.' }));
    if (badJson) return answer(400, errorBody({ type: 'invalid_request_error', code: 'invalid_json', message: 'We could not parse the JSON body of your request.' }));
    const parsed = this.parseMintBody(body);
    if (!parsed.ok) return answer(400, errorBody({ type: 'invalid_request_error', ...parsed.error }));
    const token = this.ctx.tokens.mint(parsed.seconds, parsed.config);
    record.token = token.value;
    answer(200, { value: token.value, expires_at: token.expiresAt, session: sessionToWire(`sess_${randomBytes(9).toString('hex')}`, parsed.config, token.expiresAt) });
  }

  private parseMintBody(body: unknown):
    | { ok: true; seconds: number; config: SessionConfig }
    | { ok: false; error: { code: string; message: string; param: string } } {
    const o = body === null ? {} : body;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      return { ok: false, error: { code: 'invalid_type', message: 'The body must be a JSON object.', param: '' } };
    }
    const rec = o as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      if (key !== 'expires_after' && key !== 'session') return { ok: false, error: { code: 'unknown_parameter', message: `Unknown parameter: '${key}'.`, param: key } };
    }
    let seconds = DEFAULT_TOKEN_SECONDS;
    const ea = rec['expires_after'];
    if (ea !== undefined) {
      if (typeof ea !== 'object' || ea === null || Array.isArray(ea)) {
        return { ok: false, error: { code: 'invalid_type', message: "Invalid type for 'expires_after': expected an object.", param: 'expires_after' } };
      }
      const e = ea as Record<string, unknown>;
      if (e['anchor'] !== 'created_at') {
        return { ok: false, error: { code: 'invalid_value', message: "Invalid value for 'expires_after.anchor': expected 'created_at'.", param: 'expires_after.anchor' } };
      }
      const s = e['seconds'] ?? DEFAULT_TOKEN_SECONDS;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < MIN_TOKEN_SECONDS || s > MAX_TOKEN_SECONDS) {
        return { ok: false, error: { code: 'invalid_value', message: `Invalid value for 'expires_after.seconds': expected an integer from ${MIN_TOKEN_SECONDS} to ${MAX_TOKEN_SECONDS}.`, param: 'expires_after.seconds' } };
      }
      seconds = s;
    }
    let config = defaultSessionConfig(this.ctx.defaultModel);
    if (rec['session'] !== undefined) {
      const result = applySessionUpdate(config, rec['session'], false);
      if (!result.ok) return { ok: false, error: result.error };
      config = result.config;
    }
    return { ok: true, seconds, config };
  }

  // ---- WebSocket upgrade ----

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://peer');
    const credential = this.classify(bearer(req));
    const model = url.searchParams.get('model');
    const record = (outcome: UpgradeOutcome): void => {
      const r: UpgradeRecord = { at: performance.now(), url: req.url ?? '', path: url.pathname, model, credential, headers: recordHeaders(req, credential), outcome };
      this.ctx.upgrades.push(r);
      this.ctx.emit('upgrade', r);
    };
    if (this.closing) {
      socket.destroy();
      return;
    }
    const refusal = this.ctx.faults.takeUpgradeRefusal();
    if (refusal !== undefined) {
      if (refusal === 'reset') {
        record({ kind: 'reset' });
        resetSocket(socket);
      } else if (refusal === 'hang') {
        record({ kind: 'hang' });
      } else {
        record({ kind: 'http', status: refusal.status });
        answerUpgrade(socket, refusal.status, {
          type: refusal.status === 401 ? 'invalid_request_error' : 'server_error',
          code: refusal.status === 403 ? 'model_not_found' : null,
          message: `Upgrade refused with ${refusal.status} (injected by the realtime peer).`,
        });
      }
      return;
    }
    if (url.pathname !== REALTIME_PATH) {
      record({ kind: 'http', status: 404 });
      answerUpgrade(socket, 404, { type: 'invalid_request_error', code: 'not_found', message: `No WebSocket endpoint at ${url.pathname}.` });
      return;
    }
    if (credential.kind === 'none' || credential.kind === 'malformed') {
      record({ kind: 'http', status: 401 });
      answerUpgrade(socket, 401, { type: 'invalid_request_error', code: 'missing_api_key', message: "You didn't provide an API key." });
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      record({ kind: 'accepted' });
      this.onSocket(ws, req, credential, model);
    });
  }

  private onSocket(ws: WebSocket, req: IncomingMessage, credential: CredentialRecord, model: string | null): void {
    const index = this.ctx.sessions.length;
    const rec = new SessionRecord(index, `sess_${randomBytes(9).toString('hex')}`, performance.now(), credential, recordHeaders(req, credential), req.url ?? '', model);
    this.ctx.sessions.push(rec);
    const control = new SocketControlImpl(ws, rec, this.ctx.emit);
    this.controls.push(control);
    ws.on('close', (code, reason) => control.onClosed(code, reason.toString('utf8')));
    ws.on('error', () => {
      /* a client protocol error ends in 'close'; nothing else to do */
    });
    this.ctx.emit('session', rec);

    // Rejections after the 101, as the real service does (PROTOCOL.md §5).
    if (req.headers['openai-beta'] !== undefined) return control.apply({ kind: 'close', code: 4000, reason: 'beta_api_shape_disabled' });
    if (credential.kind !== 'apiKey' && credential.kind !== 'ephemeral') return control.apply({ kind: 'close', code: 3000, reason: 'invalid_api_key' });

    const token = credential.token === undefined ? undefined : this.ctx.tokens.check(credential.token);
    let config = token?.kind === 'ephemeral' ? token.token.session : defaultSessionConfig(this.ctx.defaultModel);
    if (model !== null) config = { ...config, model };
    const maxAgeMs = this.ctx.sessionDeps.maxAgeMs;
    const emit: Emit = <K extends PeerEventName>(name: K, ...args: PeerEventMap[K]) => {
      this.ctx.emit(name, ...args);
      const moment = MOMENT_OF[name];
      if (moment !== undefined) this.ctx.faults.moment(moment, control);
    };
    const session = new RealtimeSession({
      ...this.ctx.sessionDeps,
      record: rec,
      config,
      expiresAt: Math.floor((this.ctx.now() + maxAgeMs) / 1000),
      emit,
      transport: {
        send: (text) => {
          if (ws.readyState === ws.OPEN) ws.send(text);
        },
        close: (code, reason) => control.apply({ kind: 'close', code, reason }),
      },
    });
    control.attach(session);
    ws.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) session.handleBinary(bytes.length);
      else session.handleText(bytes.toString('utf8'));
    });
    session.start();
  }
}

class SocketControlImpl implements SocketControl {
  private protocol: RealtimeSession | null = null;
  private closeIntent: { code: number; reason: string; abrupt: boolean } | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly rec: SessionRecord,
    private readonly emit: Emit,
  ) {}

  get session(): SessionRecord {
    return this.rec;
  }

  get open(): boolean {
    return this.rec.closed === null && this.closeIntent === null;
  }

  attach(protocol: RealtimeSession): void {
    this.protocol = protocol;
  }

  apply(action: FaultAction): void {
    if (!this.open) return;
    if (action.kind === 'expire') {
      // session.expire() sends the error, then calls back into apply({close 1001}).
      if (this.protocol !== null) return this.protocol.expire();
      return this.apply({ kind: 'close', code: 1001, reason: 'session_expired' });
    }
    this.protocol?.dispose();
    if (action.kind === 'drop' || action.code === 1006) {
      this.closeIntent = { code: 1006, reason: '', abrupt: true };
      this.ws.terminate();
      return;
    }
    this.closeIntent = { code: action.code, reason: action.reason, abrupt: false };
    this.ws.close(action.code, action.reason);
  }

  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  /** Peer shutdown: a polite 1001 the server then follows with a TCP cut. */
  shutdown(): void {
    if (this.open) this.apply({ kind: 'close', code: 1001, reason: 'peer shutting down' });
  }

  onClosed(code: number, reason: string): void {
    this.protocol?.dispose();
    if (this.rec.closed !== null) return;
    const intent = this.closeIntent;
    this.rec.closed =
      intent !== null
        ? { at: performance.now(), code: intent.code, reason: intent.reason, by: 'peer', abrupt: intent.abrupt }
        : { at: performance.now(), code, reason, by: 'client', abrupt: code === 1006 };
    this.emit('sessionClosed', this.rec);
  }
}
