// Owns the peer's network edge: one node:http server carrying the token
// endpoint and the WebSocket upgrade (/v1/realtime) with its credential
// rules, and every TCP socket, so close() leaves nothing behind. Plain
// node:http rather than fastify because the faults need the raw upgrade
// socket (reset, hang, bare status lines). The token endpoint's rules live
// in token-endpoint.ts, the protocol after the upgrade in session.ts.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { classifyCredential, recordHeaders } from './credentials.js';
import type { FaultMoment, PeerFaults, SocketControl } from './faults.js';
import { answerUpgrade, errorBody, resetSocket, sendJson } from './http-replies.js';
import type { CredentialRecord, Emit, PeerEventMap, PeerEventName, TokenRequestRecord, UpgradeOutcome, UpgradeRecord } from './recording.js';
import { SessionRecord } from './recording.js';
import { RealtimeSession, type SessionDeps } from './session.js';
import { defaultSessionConfig, type SessionConfig } from './session-config.js';
import { PeerSocket } from './socket-control.js';
import { CLIENT_SECRETS_PATH, TokenEndpoint } from './token-endpoint.js';
import type { TokenStore } from './token-store.js';

export const REALTIME_PATH = '/v1/realtime';

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

const MOMENT_OF: Partial<Record<PeerEventName, FaultMoment>> = { speechStarted: 'speech', responseAudio: 'response', toolCall: 'toolCall' };

export class PeerServer {
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly tcp = new Set<Duplex>();
  private readonly controls: PeerSocket[] = [];
  private closing = false;
  private readonly tokenEndpoint: TokenEndpoint;

  constructor(private readonly ctx: ServerContext) {
    this.tokenEndpoint = new TokenEndpoint(ctx);
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

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://peer').pathname;
    if (path === CLIENT_SECRETS_PATH) return this.tokenEndpoint.handle(req, res);
    sendJson(res, 404, errorBody({ type: 'invalid_request_error', code: 'not_found', message: `Unknown request URL: ${req.method} ${path}.` }));
  }

  // ---- WebSocket upgrade ----

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://peer');
    const credential = classifyCredential(this.ctx.tokens, req);
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
          type: refusal.status < 500 ? 'invalid_request_error' : 'server_error',
          code: refusal.status === 401 ? 'invalid_api_key' : null,
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
    const control = new PeerSocket(ws, rec, this.ctx.emit);
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
      if (moment === undefined) return;
      const info = args[1] as { sentMs?: number } | undefined;
      this.ctx.faults.moment(moment, control, info?.sentMs ?? 0);
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
      try {
        if (isBinary) session.handleBinary(bytes.length);
        else session.handleText(bytes.toString('utf8'));
      } catch (err) {
        // A peer bug (or a throwing test listener) must not take the test process down with it.
        session.internalError(err);
      }
    });
    session.start();
  }
}
