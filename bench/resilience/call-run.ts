// Owns running one faulted call: a fresh peer and bridge for it, the fault
// armed on that peer, the simulated call played to its end (a fallback
// hand-off hangs it up, as Twilio ends the stream when a call's TwiML is
// replaced), then the records handed to measure.ts. Tears everything down
// even when the call fails.

import { randomBytes } from 'node:crypto';
import type { CallSummary } from '../../src/call/call-session.js';
import { SimulatedCall } from '../../src/devtools/call-simulator/index.js';
import type { TwilioApiStandIn } from '../../src/devtools/twilio-api/twilio-api-stand-in.js';
import type { ConnectAttempt } from '../../src/upstream/realtime-link.js';
import type { FaultKind, InjectedFault } from './faults.js';
import { measureCall, type CallResult } from './measure.js';
import { ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, REPLY_MS, startBridge, startPeer } from './stack.js';

/** Shared between concurrent calls: the Twilio REST stand-in and who to hang up when it is told to. */
export class TwilioSide {
  private readonly calls = new Map<string, SimulatedCall>();
  private readonly fallbackAt = new Map<string, number>();

  constructor(readonly api: TwilioApiStandIn) {
    api.onUpdate((u) => {
      if (u.twiml !== undefined && !this.fallbackAt.has(u.callSid)) this.fallbackAt.set(u.callSid, performance.now());
      // Twilio ends the stream when a call's TwiML is replaced or it is completed.
      this.calls.get(u.callSid)?.hangup(u.twiml !== undefined ? 'Twilio: TwiML replaced' : 'Twilio: call completed');
    });
  }

  register(call: SimulatedCall): void {
    this.calls.set(call.callSid, call);
  }

  done(callSid: string): number | undefined {
    this.calls.delete(callSid);
    const at = this.fallbackAt.get(callSid);
    this.fallbackAt.delete(callSid);
    return at;
  }
}

export interface CallFailure {
  readonly kind: string;
  readonly index: number;
  readonly error: string;
}

async function until(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!predicate() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

export async function runFaultedCall(kind: FaultKind, index: number, twilio: TwilioSide): Promise<CallResult | CallFailure> {
  const peer = await startPeer();
  let summary: CallSummary | undefined;
  const attempts: ConnectAttempt[] = [];
  const bridge = await startBridge(
    { OPENAI_BASE_URL: peer.baseUrl, TWILIO_API_BASE_URL: twilio.api.baseUrl, ...kind.env },
    { onCallEnded: (s) => (summary = s), onConnectAttempt: (_sid, a) => attempts.push(a) },
  );
  let fault: InjectedFault | undefined;
  kind.arm?.(peer, (f) => (fault = f));
  const callSid = 'CA' + randomBytes(16).toString('hex');
  try {
    const call = new SimulatedCall({
      bridgeUrl: bridge.url,
      publicUrl: PUBLIC_URL,
      authToken: AUTH_TOKEN,
      accountSid: ACCOUNT_SID,
      callSid,
      script: kind.script,
      recordHeard: false,
      maxDurationMs: 30_000,
    });
    twilio.register(call);
    const report = await call.run();
    await until(() => summary !== undefined, 3000);
    const fallbackAt = twilio.done(callSid);
    return measureCall({ kind, index, report, summary, sessions: [...peer.sessions], fault, fallbackAt, attempts, replyMs: REPLY_MS });
  } catch (err) {
    twilio.done(callSid);
    return { kind: kind.id, index, error: err instanceof Error ? err.message : String(err) };
  } finally {
    await bridge.close();
    await peer.close();
  }
}
