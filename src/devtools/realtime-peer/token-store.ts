// Owns the ephemeral client secrets (`ek_…`) the peer has minted: creation,
// lookup and expiry. Pure logic with an injected clock so expiry is testable
// without waiting. Never decides anything about sockets or HTTP: the server
// asks it "what is this credential?" and acts on the answer.

import { randomBytes } from 'node:crypto';

export interface MintedToken<S = unknown> {
  readonly value: string;
  /** Unix seconds, as the real service reports it. */
  readonly expiresAt: number;
  readonly createdAt: number;
  /** The `session` object the token was minted with, already normalised; applied to sockets it opens. */
  readonly session: S;
}

export type CredentialCheck<S = unknown> =
  | { readonly kind: 'apiKey' }
  | { readonly kind: 'ephemeral'; readonly token: MintedToken<S> }
  | { readonly kind: 'expired'; readonly token: MintedToken<S> }
  | { readonly kind: 'unknown' };

export const MIN_TOKEN_SECONDS = 10;
export const MAX_TOKEN_SECONDS = 7200;
export const DEFAULT_TOKEN_SECONDS = 600;

/** `S` is whatever the token carries for the sockets it opens (the peer uses the session configuration). */
export class TokenStore<S = unknown> {
  private readonly tokens = new Map<string, MintedToken<S>>();

  /** `now` returns wall-clock milliseconds; tests pass a fake one to age tokens. */
  constructor(
    private readonly apiKey: string,
    private readonly now: () => number = Date.now,
  ) {}

  mint(seconds: number, session: S): MintedToken<S> {
    if (!Number.isInteger(seconds) || seconds < MIN_TOKEN_SECONDS || seconds > MAX_TOKEN_SECONDS) {
      throw new RangeError(`seconds must be an integer from ${MIN_TOKEN_SECONDS} to ${MAX_TOKEN_SECONDS}`);
    }
    const createdAt = Math.floor(this.now() / 1000);
    // base64url keeps the value header-safe; 24 bytes is plenty for a test tool.
    const token: MintedToken<S> = {
      value: `ek_${randomBytes(24).toString('base64url')}`,
      createdAt,
      expiresAt: createdAt + seconds,
      session,
    };
    this.tokens.set(token.value, token);
    return token;
  }

  /** Classifies a bearer credential. An expired token stays known so callers can tell "expired" from "never issued". */
  check(credential: string): CredentialCheck<S> {
    if (credential === this.apiKey) return { kind: 'apiKey' };
    const token = this.tokens.get(credential);
    if (token === undefined) return { kind: 'unknown' };
    // The real service's exact boundary is unknown; the expires_at second itself counts as expired.
    if (this.now() / 1000 >= token.expiresAt) return { kind: 'expired', token };
    return { kind: 'ephemeral', token };
  }

  get size(): number {
    return this.tokens.size;
  }
}
