// Owns the rules that keep call secrets out of telemetry text: the stream
// ticket in request paths, and caller phone numbers. Pure string functions
// shared by the log serializers and the HTTP/Fastify span hooks. Never returns
// its input unchanged when the input holds a ticket path segment.

/** What replaces a removed secret, in logs and span attributes alike. */
export const REDACTED = '[REDACTED]';

// The stream URL carries a single-use ticket as the path segment after
// `/stream/` (see PROTOCOL.md §2: per-call data travels in the path). Anything
// up to the next `/`, `?` or `#` is the ticket.
const TICKET_SEGMENT = /(\/stream\/)[^/?#]+/g;

/** Replaces the ticket segment of a stream path or URL with [REDACTED]; other paths pass through. */
export function redactTicketPath(pathOrUrl: string): string {
  return pathOrUrl.replace(TICKET_SEGMENT, `$1${REDACTED}`);
}

export type PhoneMasking = 'last4' | 'full' | 'none';

/**
 * Masks a phone number. `last4` (the default) keeps the leading `+`, the first
 * digit (the start of the country code, enough to tell regions apart) and the
 * last four digits: `+14155550123` → `+1******0123`. `full` hides every
 * letter and digit; `none` leaves the value alone. Values that are not E.164
 * (`client:alice`, `anonymous`) keep only their last four characters.
 */
export function maskPhone(value: string, mode: PhoneMasking = 'last4'): string {
  if (mode === 'none') return value;
  if (mode === 'full') return value.replace(/[0-9A-Za-z]/g, '*');
  const e164 = /^\+\d{6,15}$/.test(value);
  const chars = value.split('');
  let seen = 0;
  // Walk from the end so the last four survive and the shape stays readable.
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i] as string;
    if (!/[0-9A-Za-z]/.test(c)) continue;
    seen++;
    if (seen > 4 && !(e164 && i === 1)) chars[i] = '*';
  }
  return chars.join('');
}
