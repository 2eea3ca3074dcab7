// Owns the random Twilio-shaped identifiers the simulator invents (CallSid,
// StreamSid, AccountSid for tests). Never used for anything secret.

import { randomBytes } from 'node:crypto';

/** `prefix` + 32 lowercase hex digits, the shape of every Twilio SID. */
export function twilioSid(prefix: 'CA' | 'MZ' | 'AC'): string {
  return prefix + randomBytes(16).toString('hex');
}

export const newCallSid = (): string => twilioSid('CA');
export const newStreamSid = (): string => twilioSid('MZ');
