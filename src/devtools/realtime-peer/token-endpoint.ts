// Owns POST /v1/realtime/client_secrets: the long-lived key check, the
// body rules (expires_after 10..7200 s, a GA `session`), injected failures,
// minting through the token store, and the record of every request. An ek_
// can never mint another ek_.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { classifyCredential } from './credentials.js';
import type { PeerFaults } from './faults.js';
import { errorBody, resetSocket, sendJson } from './http-replies.js';
import type { Emit, TokenRequestRecord } from './recording.js';
import { applySessionUpdate, defaultSessionConfig, sessionToWire, type SessionConfig } from './session-config.js';
import { DEFAULT_TOKEN_SECONDS, MAX_TOKEN_SECONDS, MIN_TOKEN_SECONDS, type TokenStore } from './token-store.js';

export const CLIENT_SECRETS_PATH = '/v1/realtime/client_secrets';
const MAX_BODY_BYTES = 1 << 20;

export interface TokenEndpointContext {
  readonly tokens: TokenStore<SessionConfig>;
  readonly faults: PeerFaults;
  readonly emit: Emit;
  readonly tokenRequests: TokenRequestRecord[];
  readonly defaultModel: string;
}

export class TokenEndpoint {
  constructor(private readonly ctx: TokenEndpointContext) {}

  /** Answers one request the server routed here (its path is CLIENT_SECRETS_PATH). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://peer').pathname;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => this.answer(req, res, path, tooLarge ? null : Buffer.concat(chunks).toString('utf8'), tooLarge));
    req.on('error', () => res.destroy());
  }

  private answer(req: IncomingMessage, res: ServerResponse, path: string, text: string | null, tooLarge: boolean): void {
    let body: unknown = null;
    let badJson = false;
    if (text !== null && text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        badJson = true;
      }
    }
    const credential = classifyCredential(this.ctx.tokens, req);
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
}
