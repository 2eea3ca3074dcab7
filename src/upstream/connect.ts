// Owns opening a realtime session for a call: mint a fresh short-lived
// credential, open the socket with it, send the session configuration, and
// wait until the server confirms it (session.updated); an error in its place
// means the configuration was rejected, which no retry can fix.
// The long-lived API key stops at the mint; it never reaches the socket.

import { ClientSecretError, mintClientSecret } from './client-secret.js';
import { RealtimeConnectError, RealtimeConnection, type ConnectFailure, type KeepaliveSettings, type RealtimeHandlers } from './realtime-connection.js';
import { sessionUpdate, type SessionSettings } from './session-config.js';

export interface UpstreamSettings extends SessionSettings {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly model: string;
  readonly tokenTtlSeconds: number;
  readonly connectTimeoutMs: number;
  /** Liveness check of each session's socket; the production defaults (DEFAULT_KEEPALIVE) unless given. */
  readonly keepalive?: KeepaliveSettings;
}

/** Watches the steps of one connect, for tracing. */
export interface ConnectObserver {
  tokenMint(ttlSeconds: number): { ok(): void; fail(errorType: string): void; abandoned(): void };
}

/** Why a connect's signal was aborted: the call ended (nobody's fault), or the call gave up on the AI service. */
export type AbortCause = 'call_ended' | 'gave_up';

/**
 * Opens a configured session. Rejects with ClientSecretError or RealtimeConnectError. Once `signal` aborts (the call
 * ended) it stops at the step it is on: the mint's request, the upgrade or the wait for the confirmation, and closes
 * what it opened, so an ended call leaves no session open on the AI service.
 */
export type UpstreamConnector = (handlers: RealtimeHandlers, observer?: ConnectObserver, signal?: AbortSignal) => Promise<RealtimeConnection>;

export function realtimeConnector(settings: UpstreamSettings): UpstreamConnector {
  const update = sessionUpdate(settings);
  return async (handlers, observer, signal) => {
    const mint = observer?.tokenMint(settings.tokenTtlSeconds);
    let secret;
    try {
      secret = await mintClientSecret({
        baseUrl: settings.baseUrl,
        apiKey: settings.apiKey,
        model: settings.model,
        ttlSeconds: settings.tokenTtlSeconds,
        timeoutMs: settings.connectTimeoutMs,
        ...(signal === undefined ? {} : { signal }),
      });
      mint?.ok();
    } catch (err) {
      if (signal?.aborted === true && signal.reason === 'call_ended') mint?.abandoned();
      else mint?.fail(err instanceof ClientSecretError ? `${err.kind}${err.status === undefined ? '' : `_${err.status}`}` : 'error');
      throw err;
    }
    // Until the server confirms the configuration, events are the setup's business, not the call's. From the
    // confirmation on they are the call's, even those read in the same chunk, before this function returns.
    let settle: ((failure?: ConnectFailure) => void) | undefined;
    const configured = new Promise<ConnectFailure | undefined>((resolve) => (settle = resolve));
    const setup: RealtimeHandlers = {
      onEvent: (event) => {
        if (settle === undefined) return handlers.onEvent(event);
        if (event.type === 'session.updated') {
          const confirm = settle;
          settle = undefined;
          confirm();
        } else if (event.type === 'error') settle({ kind: 'config_rejected', code: event.code });
      },
      onMalformed: (detail) => handlers.onMalformed(detail),
      onClose: (code, reason) => {
        if (settle === undefined) return handlers.onClose(code, reason);
        settle({ kind: 'closed', code, reason });
      },
    };
    const connection = await RealtimeConnection.open(
      {
        baseUrl: settings.baseUrl,
        model: settings.model,
        credential: secret.value,
        timeoutMs: settings.connectTimeoutMs,
        keepalive: settings.keepalive,
        ...(signal === undefined ? {} : { signal }),
      },
      setup,
    );
    const abandon = (): void => settle?.({ kind: 'abandoned' });
    if (signal?.aborted === true) abandon();
    else {
      signal?.addEventListener('abort', abandon, { once: true });
      connection.send(update);
    }
    const timer = setTimeout(() => settle?.({ kind: 'timeout' }), settings.connectTimeoutMs);
    const failure = await configured;
    clearTimeout(timer);
    signal?.removeEventListener('abort', abandon);
    settle = undefined;
    if (failure !== undefined) {
      connection.close(1000, failure.kind === 'abandoned' ? 'call ended' : 'setup failed');
      throw new RealtimeConnectError(failure);
    }
    return connection;
  };
}
