// Owns the decision to admit a new call: only while live calls are under the
// cap and the event loop is keeping up. A refused call still gets valid
// TwiML (the fallback), never a 5xx. Pure: inputs are passed in.

export interface AdmissionLimits {
  readonly maxCalls: number;
  /** p99 event-loop delay (ms) above which new calls are refused. */
  readonly maxLoopDelayMs: number;
}

export type AdmissionVerdict = { readonly admit: true } | { readonly admit: false; readonly reason: 'draining' | 'max_calls' | 'event_loop_delay' };

export function admitCall(limits: AdmissionLimits, state: { liveCalls: number; loopDelayP99Ms: number; draining: boolean }): AdmissionVerdict {
  if (state.draining) return { admit: false, reason: 'draining' };
  if (state.liveCalls >= limits.maxCalls) return { admit: false, reason: 'max_calls' };
  if (state.loopDelayP99Ms > limits.maxLoopDelayMs) return { admit: false, reason: 'event_loop_delay' };
  return { admit: true };
}
