// Owns X-Twilio-Signature values as Twilio computes them. Delegates to the
// real twilio library so the bridge is checked against the vendor's algorithm,
// not against our own reading of it. Never logs the auth token.

import twilio from 'twilio';

/** Signature of a form-encoded webhook POST to `url` (the public URL Twilio requested). */
export function signWebhook(authToken: string, url: string, params: Readonly<Record<string, string>>): string {
  return twilio.getExpectedTwilioSignature(authToken, url, { ...params });
}

/**
 * Signature Twilio sends on the Media Streams upgrade: over the `wss://` URL
 * exactly as written in the TwiML, with no fields.
 */
export function signStreamUrl(authToken: string, wssUrl: string): string {
  return twilio.getExpectedTwilioSignature(authToken, wssUrl, {});
}
