// Owns minting of short-lived realtime credentials (`ek_…`) with the
// long-lived API key. The API key is used here and nowhere else; neither it
// nor a minted value is ever logged or put into an error message.

export interface ClientSecret {
  readonly value: string;
  /** Unix milliseconds. */
  readonly expiresAt: number;
}

export type MintFailureKind =
  /** Retrying cannot help: bad or revoked key, no access, quota, rejected configuration. */
  | 'fatal'
  /** Server error, timeout or network failure: worth retrying. */
  | 'transient';

export class ClientSecretError extends Error {
  readonly code = 'BRIDGE_ERR_TOKEN_MINT';
  constructor(
    readonly kind: MintFailureKind,
    readonly status: number | undefined,
    readonly reason: string,
  ) {
    super(`token mint failed (${kind}${status === undefined ? '' : `, HTTP ${status}`}): ${reason}`);
    this.name = 'ClientSecretError';
  }
}

export interface MintOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly model: string;
  readonly ttlSeconds: number;
  readonly timeoutMs: number;
  /** Aborted by the caller (the call ended or gave up on the AI): the request is dropped and the mint fails as transient. */
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
}

/** Statuses that mean the key or the request itself is wrong: never retried. */
function isFatalStatus(status: number, code: string | undefined): boolean {
  if (status === 429) return code === 'insufficient_quota';
  return status === 400 || status === 401 || status === 403 || status === 404 || status === 422;
}

export async function mintClientSecret(opts: MintOptions): Promise<ClientSecret> {
  const doFetch = opts.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(`${opts.baseUrl}/v1/realtime/client_secrets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        expires_after: { anchor: 'created_at', seconds: opts.ttlSeconds },
        session: { type: 'realtime', model: opts.model },
      }),
      signal: opts.signal === undefined ? AbortSignal.timeout(opts.timeoutMs) : AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), opts.signal]),
    });
  } catch (err) {
    if (opts.signal?.aborted === true) throw new ClientSecretError('transient', undefined, 'abandoned');
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new ClientSecretError('transient', undefined, timedOut ? `no answer within ${opts.timeoutMs} ms` : 'network error');
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
    const code = typeof error?.code === 'string' ? error.code : undefined;
    const kind: MintFailureKind = isFatalStatus(response.status, code) ? 'fatal' : 'transient';
    throw new ClientSecretError(kind, response.status, code ?? `HTTP ${response.status}`);
  }
  if (!isRecord(body) || typeof body.value !== 'string' || !body.value.startsWith('ek_') || typeof body.expires_at !== 'number') {
    throw new ClientSecretError('transient', response.status, 'malformed client secret response');
  }
  return { value: body.value, expiresAt: body.expires_at * 1000 };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
