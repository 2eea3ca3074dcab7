// Owns X-Twilio-Signature checks for the voice webhook and the Media Streams
// upgrade. The URL checked is always built from the configured public base,
// never from Host or X-Forwarded-* headers, which a client controls.
// Never logs or returns a signature or the auth token.

import twilio from 'twilio';

export type SignatureFailure = 'missing' | 'invalid';
export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

export class TwilioSignatureVerifier {
  readonly #authToken: string;
  readonly #publicUrl: string;
  readonly #wsBase: string;

  constructor(authToken: string, publicUrl: string) {
    this.#authToken = authToken;
    this.#publicUrl = publicUrl;
    this.#wsBase = publicUrl.replace(/^https:/, 'wss:');
  }

  /** The https URL Twilio signs for a webhook at `path`. */
  webhookUrl(path: string): string {
    return this.#publicUrl + path;
  }

  /** The wss URL Twilio connects to (and signs) for a stream at `path`. */
  streamUrl(path: string): string {
    return this.#wsBase + path;
  }

  /** Form POST: URL plus every received field, as Twilio signs it. */
  checkWebhook(signature: string | undefined, path: string, fields: Record<string, string>): SignatureCheck {
    if (!signature) return { ok: false, reason: 'missing' };
    return this.#matches(signature, path, [this.webhookUrl(path)], fields) ? { ok: true } : { ok: false, reason: 'invalid' };
  }

  /**
   * WebSocket upgrade: Twilio signs the wss URL exactly as given in the TwiML,
   * with no fields. Its docs advise also accepting the URL with a trailing '/'.
   */
  checkUpgrade(signature: string | undefined, path: string): SignatureCheck {
    if (!signature) return { ok: false, reason: 'missing' };
    const url = this.streamUrl(path);
    return this.#matches(signature, path, [url, url.endsWith('/') ? url.slice(0, -1) : url + '/'], {}) ? { ok: true } : { ok: false, reason: 'invalid' };
  }

  /**
   * Twilio requests a path (origin form). Anything else (an absolute-form target such as `http://x/…`, which
   * Node accepts and routes by its path) can only be forged, and would make validateRequest throw on the URL
   * it builds: it is a failed check, counted like any other.
   */
  #matches(signature: string, path: string, urls: string[], fields: Record<string, string>): boolean {
    if (!path.startsWith('/')) return false;
    try {
      return urls.some((url) => twilio.validateRequest(this.#authToken, signature, url, fields));
    } catch {
      return false;
    }
  }
}
