// Owns the credential rules shared by the token endpoint and the socket:
// reading `Authorization: Bearer …`, classifying it against the token store,
// and the header record in which Authorization is reduced to that class.

import type { IncomingMessage } from 'node:http';
import type { CredentialRecord } from './recording.js';
import type { TokenStore } from './token-store.js';

/** The bearer value, null when there is no Authorization header, 'malformed' when it is not Bearer. */
export function bearer(req: IncomingMessage): string | null | 'malformed' {
  const h = req.headers.authorization;
  if (h === undefined) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m === null ? 'malformed' : m[1]!;
}

export function classifyCredential(tokens: TokenStore<unknown>, req: IncomingMessage): CredentialRecord {
  const value = bearer(req);
  if (value === null) return { kind: 'none' };
  if (value === 'malformed') return { kind: 'malformed' };
  const check = tokens.check(value);
  switch (check.kind) {
    case 'apiKey':
    case 'unknown':
      return { kind: check.kind };
    case 'ephemeral':
    case 'expired':
      return { kind: check.kind, token: check.token.value };
  }
}

/** Headers for the record, with Authorization reduced to the kind of credential. */
export function recordHeaders(req: IncomingMessage, credential: CredentialRecord): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = { ...req.headers };
  if (out['authorization'] !== undefined) out['authorization'] = `Bearer <${credential.kind}>`;
  return out;
}
