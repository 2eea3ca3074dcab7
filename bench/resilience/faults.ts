// Owns the fixed catalogue of faults the resilience bench injects: for each
// kind, the caller's script, the bridge settings it needs, whether a fallback
// is due, and how the fault is armed on that call's own realtime peer. Every
// fault hits the call's first session; the moment is taken on the peer's
// clock (performance.now, the clock of every peer record). It never measures:
// measure.ts does.

import type { CallStep } from '../../src/devtools/call-simulator/index.js';
import type { PeerSession, RealtimePeer } from '../../src/devtools/realtime-peer/index.js';
import { fixture } from './stack.js';

const UTTERANCE = fixture('caller-interrupt.wav'); // 3.1 s of speech

/** One utterance, the answer, then 1 s of silence in which a duplicate answer would show up. */
const ONE_TURN: CallStep[] = [{ say: UTTERANCE }, { waitFor: 'assistantDone', idleMs: 300, timeoutMs: 8000 }, { silenceMs: 1000 }, { hangup: true }];
/** Two turns: the call must go on after the fault. */
const TWO_TURNS: CallStep[] = [
  { say: UTTERANCE },
  { waitFor: 'assistantDone', idleMs: 300, timeoutMs: 8000 },
  { say: UTTERANCE },
  { waitFor: 'assistantDone', idleMs: 300, timeoutMs: 8000 },
  { silenceMs: 500 },
  { hangup: true },
];
/** A call that should be handed to the fallback; the hand-off hangs it up long before the script ends. */
const UNTIL_FALLBACK: CallStep[] = [{ say: UTTERANCE }, { silenceMs: 8000 }, { hangup: true }];

export interface InjectedFault {
  /** The session the fault hit; none when the fault refused the call's first connects. */
  readonly session?: PeerSession;
  /** performance.now() just before the peer applied the fault (for refusals at call start: the peer's record of the first refused upgrade). */
  readonly injectedAt: number;
}

export interface FaultKind {
  readonly id: string;
  readonly label: string;
  /** Bridge settings on top of the defaults. */
  readonly env: Readonly<Record<string, string>>;
  readonly script: readonly CallStep[];
  /** The call must end with the fallback hand-off. */
  readonly fallbackDue: boolean;
  /** The upstream accepts the very next connect: the ≤ 300 ms p95 recovery target applies. */
  readonly acceptsAtOnce: boolean;
  /** A response.create in the new session before its first audio is owed (a tool result nobody answered). */
  readonly owesResponse: boolean;
  /** What the recovery time is expected to contain. */
  readonly note: string;
  /** Installs the fault on this call's peer; calls `fired` once it is applied. Undefined: no fault (baseline). */
  readonly arm?: (peer: RealtimePeer, fired: (f: InjectedFault) => void) => void;
}

/** At the caller's first speech_started on the first session (or `delayMs` later), run `inject`. */
function atSpeech(inject: (peer: RealtimePeer, s: PeerSession) => void, delayMs = 0) {
  return (peer: RealtimePeer, fired: (f: InjectedFault) => void): void => {
    let done = false;
    const fire = (s: PeerSession): void => {
      if (s.closed !== null) return;
      const injectedAt = performance.now();
      inject(peer, s);
      fired({ session: s, injectedAt });
    };
    peer.on('speechStarted', (s) => {
      if (done || s.index !== 0) return;
      done = true;
      if (delayMs === 0) fire(s);
      else setTimeout(() => fire(s), delayMs);
    });
  };
}

/** Once the first session's response has sent `afterMs` of audio, run `inject`. */
function atResponseAudio(afterMs: number, inject: (peer: RealtimePeer, s: PeerSession) => void) {
  return (peer: RealtimePeer, fired: (f: InjectedFault) => void): void => {
    let done = false;
    peer.on('responseAudio', (s, info) => {
      if (done || s.index !== 0 || info.sentMs < afterMs) return;
      done = true;
      const injectedAt = performance.now();
      inject(peer, s);
      fired({ session: s, injectedAt });
    });
  };
}

const drop = (peer: RealtimePeer, s: PeerSession): void => void peer.faults.drop(s);

export const FAULT_KINDS: readonly FaultKind[] = [
  {
    id: 'none',
    label: 'no fault (baseline)',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: false,
    owesResponse: false,
    note: 'calibration: what the harness itself loses or duplicates',
  },
  {
    id: 'drop-speech',
    label: 'drop 1006 during caller speech',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: true,
    owesResponse: false,
    note: 'TCP cut right after speech_started',
    arm: atSpeech(drop),
  },
  {
    id: 'drop-mid-speech',
    label: 'drop 1006 1.5 s into caller speech',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: true,
    owesResponse: false,
    note: 'TCP cut 1.5 s after speech_started, mid-utterance',
    arm: atSpeech(drop, 1500),
  },
  {
    id: 'drop-response',
    label: 'drop 1006 during a response',
    env: {},
    script: TWO_TURNS,
    fallbackDue: false,
    acceptsAtOnce: true,
    owesResponse: false,
    note: 'TCP cut 800 ms into the first answer; the caller then speaks again',
    arm: atResponseAudio(800, drop),
  },
  {
    id: 'drop-tool',
    label: 'drop 1006 during a tool call',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: true,
    owesResponse: true,
    note: 'TCP cut as the bridge’s function_call_output arrives: the new session owes one response.create',
    arm: (peer, fired) => {
      peer.queueReply({ type: 'function_call', name: 'lookup_hours', arguments: { day: 'saturday' }, callId: 'call_hours_1' });
      let done = false;
      peer.on('clientEvent', (s, received) => {
        const e = received.event;
        if (done || s.index !== 0 || e?.type !== 'conversation.item.create' || e.item.type !== 'function_call_output') return;
        done = true;
        const injectedAt = performance.now();
        peer.faults.drop(s);
        fired({ session: s, injectedAt });
      });
    },
  },
  {
    id: 'close-1001',
    label: 'close 1001 during a response',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: true,
    owesResponse: false,
    note: 'close frame 1001 going away, 400 ms into the answer',
    arm: atResponseAudio(400, (peer, s) => void peer.faults.close(1001, 'going away', s)),
  },
  {
    id: 'close-1011',
    label: 'close 1011 during a response',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: true,
    owesResponse: false,
    note: 'close frame 1011 server error, 400 ms into the answer',
    arm: atResponseAudio(400, (peer, s) => void peer.faults.close(1011, 'server error', s)),
  },
  {
    id: 'expired',
    label: 'session_expired during speech',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: true,
    owesResponse: false,
    note: 'error session_expired then close 1001, as at the 60-minute cap',
    arm: atSpeech((peer, s) => void peer.faults.expire(s)),
  },
  {
    id: 'refuse-3',
    label: 'drop, then 3 upgrades refused 503',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: false,
    owesResponse: false,
    note: 'drop during speech; the next 3 upgrades get 503: the backoff after the drop, 0 + 250 + 500 + 1000 ms (±20 %), is in the figure',
    arm: atSpeech((peer, s) => {
      peer.faults.refuseUpgrades(3, { status: 503 });
      peer.faults.drop(s);
    }),
  },
  {
    id: 'refuse-3-start',
    label: '3 upgrades refused 503 at call start',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: false,
    owesResponse: false,
    note: 'the call’s first 3 upgrades get 503; recovery runs from the first refusal (peer record) to the first audio appended: backoff 0 + 250 + 500 ms (±20 %) is in the figure',
    arm: (peer, fired) => {
      peer.faults.refuseUpgrades(3, { status: 503 });
      let done = false;
      peer.on('upgrade', (u) => {
        if (done || u.outcome.kind !== 'http') return;
        done = true;
        fired({ injectedAt: u.at });
      });
    },
  },
  {
    id: 'token-500',
    label: 'drop, then token endpoint 500 once',
    env: {},
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: false,
    owesResponse: false,
    note: 'drop during speech; the next mint answers 500: one 250 ms (±20 %) backoff is in the figure',
    arm: atSpeech((peer, s) => {
      peer.faults.failTokenRequests(1, { status: 500 });
      peer.faults.drop(s);
    }),
  },
  {
    id: 'token-stall',
    label: 'drop, then token endpoint stalls once',
    env: { UPSTREAM_CONNECT_TIMEOUT_MS: '500' },
    script: ONE_TURN,
    fallbackDue: false,
    acceptsAtOnce: false,
    owesResponse: false,
    note: 'drop during speech; the next mint never answers: the 500 ms connect timeout + a 250 ms (±20 %) backoff dominate',
    arm: atSpeech((peer, s) => {
      peer.faults.failTokenRequests(1, 'stall');
      peer.faults.drop(s);
    }),
  },
  {
    id: 'outage',
    label: 'outage beyond the budget',
    env: { OUTAGE_BUDGET_MS: '2000' },
    script: UNTIL_FALLBACK,
    fallbackDue: true,
    acceptsAtOnce: false,
    owesResponse: false,
    note: 'drop during speech, then every upgrade refused 503; OUTAGE_BUDGET_MS=2000: the figure is drop → fallback POST',
    arm: atSpeech((peer, s) => {
      peer.faults.refuseUpgrades(1_000_000, { status: 503 });
      peer.faults.drop(s);
    }),
  },
  {
    id: 'fatal-3000',
    label: 'close 3000 invalid_api_key',
    env: {},
    script: UNTIL_FALLBACK,
    fallbackDue: true,
    acceptsAtOnce: false,
    owesResponse: false,
    note: 'fatal close during speech: no retry; the figure is close → fallback POST',
    arm: atSpeech((peer, s) => void peer.faults.close(3000, 'invalid_api_key', s)),
  },
];
