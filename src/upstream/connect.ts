// Owns opening a realtime session for a call: mint a fresh short-lived
// credential, open the socket with it, and send the session configuration.
// The long-lived API key stops at the mint; it never reaches the socket.

import { ClientSecretError, mintClientSecret } from './client-secret.js';
import { RealtimeConnection, type RealtimeHandlers } from './realtime-connection.js';
import { sessionUpdate, type SessionSettings } from './session-config.js';

export interface UpstreamSettings extends SessionSettings {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly model: string;
  readonly tokenTtlSeconds: number;
  readonly connectTimeoutMs: number;
}

/** Watches the steps of one connect, for tracing. */
export interface ConnectObserver {
  tokenMint(ttlSeconds: number): { ok(): void; fail(errorType: string): void };
}

/** Opens a configured session. Rejects with ClientSecretError or RealtimeConnectError. */
export type UpstreamConnector = (handlers: RealtimeHandlers, observer?: ConnectObserver) => Promise<RealtimeConnection>;

export function realtimeConnector(settings: UpstreamSettings): UpstreamConnector {
  const update = sessionUpdate(settings);
  return async (handlers, observer) => {
    const mint = observer?.tokenMint(settings.tokenTtlSeconds);
    let secret;
    try {
      secret = await mintClientSecret({
        baseUrl: settings.baseUrl,
        apiKey: settings.apiKey,
        model: settings.model,
        ttlSeconds: settings.tokenTtlSeconds,
        timeoutMs: settings.connectTimeoutMs,
      });
      mint?.ok();
    } catch (err) {
      mint?.fail(err instanceof ClientSecretError ? `${err.kind}${err.status === undefined ? '' : `_${err.status}`}` : 'error');
      throw err;
    }
    const connection = await RealtimeConnection.open(
      { baseUrl: settings.baseUrl, model: settings.model, credential: secret.value, timeoutMs: settings.connectTimeoutMs },
      handlers,
    );
    connection.send(update);
    return connection;
  };
}
