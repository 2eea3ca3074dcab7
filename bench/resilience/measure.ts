// Owns the figures of one faulted call, derived only from records: the
// peer's per-session event log (its own performance.now clock), the
// simulator's CallReport, the bridge's CallSummary and the time the Twilio
// REST stand-in saw a fallback. Pure: no sockets, no timers.

import type { CallSummary } from '../../src/call/call-session.js';
import type { CallReport } from '../../src/devtools/call-simulator/index.js';
import type { PeerSession } from '../../src/devtools/realtime-peer/index.js';
import type { ConnectAttempt } from '../../src/upstream/realtime-link.js';
import type { FaultKind, InjectedFault } from './faults.js';

/** PCM16 mono 24 kHz: 48 bytes per ms. */
const PCM24K_BYTES_PER_MS = 48;
const COMFORT_FRAME_MS = 20;
/** Rounding of 20 ms frames at the end of each reply. */
const HEARD_SLACK_MS = 40;

export interface CallInputs {
  readonly kind: FaultKind;
  readonly index: number;
  readonly report: CallReport;
  readonly summary: CallSummary | undefined;
  readonly sessions: readonly PeerSession[];
  readonly fault: InjectedFault | undefined;
  /** performance.now() when the REST stand-in received the fallback TwiML for this call. */
  readonly fallbackAt: number | undefined;
  readonly attempts: readonly ConnectAttempt[];
  readonly replyMs: number;
}

export interface CallResult {
  readonly kind: string;
  readonly index: number;
  readonly callSid: string;
  readonly faultFired: boolean;
  /** Peer clock: just before the fault was applied (the drop, close, expiry; for refusal/token kinds, the drop that starts the outage). */
  readonly faultAt: number | null;
  /** The peer's close record of the faulted session, minus faultAt. */
  readonly closeRecordLagMs: number | null;
  /** Fault → first input_audio_buffer.append received by a session opened after the fault. */
  readonly recoveryMs: number | null;
  /** Fault → the new session's socket accepted. */
  readonly reopenMs: number | null;
  /** Fault → the fallback TwiML reached the Twilio REST stand-in. */
  readonly fallbackMs: number | null;
  readonly sessions: number;
  /** Caller audio the simulator sent (frames × 20 ms). */
  readonly callerSentMs: number;
  /** Caller audio that reached any session of the call (decoded append bytes ÷ 48). */
  readonly callerReachedMs: number;
  /** Silence the bridge inserted on its own (CallSummary.gapFilledMs: no media for 200 ms, e.g. an event-loop stall): part of callerReachedMs but never sent by the caller. */
  readonly gapFilledMs: number;
  /** Uncommitted caller audio the bridge sent again to a replacement session (CallSummary.callerAudioResentMs): reached two sessions, sent once. */
  readonly resentMs: number;
  /** callerSentMs − (callerReachedMs − gapFilledMs − resentMs): caller audio that reached no session. */
  readonly callerLostMs: number;
  /** The bridge's own count of caller audio it dropped while waiting for a session. */
  readonly bridgeDroppedMs: number | null;
  /**
   * Caller speech the faulted session had received after its last speech_started
   * with no commit since (its input buffer at the fault): it reached a session,
   * so it is not "lost" above, but no later session ever hears it.
   */
  readonly strandedSpeechMs: number | null;
  /** User turns: input_audio_buffer.committed sent by the peer, over all sessions. */
  readonly userTurns: number;
  readonly audioResponses: number;
  /** Responses with audio beyond one per user turn (committed speech). */
  readonly duplicateResponses: number;
  /** response.create sent to a new session during replay when no tool result was owed an answer. */
  readonly unowedResponseCreates: number;
  /** A tool result was owed an answer in the new session and no response.create was sent. */
  readonly owedResponseMissing: boolean;
  /** Assistant audio the caller received (comfort frames excluded). */
  readonly assistantHeardMs: number;
  /** min(audio responses, user turns) × reply length: more than this means a reply was played twice. */
  readonly heardBoundMs: number;
  readonly heardOverBound: boolean;
  readonly utterances: number;
  readonly answered: number;
  readonly gotFallback: boolean;
  readonly missedFallback: boolean;
  readonly spuriousFallback: boolean;
  readonly outcome: string | null;
  readonly reconnects: number | null;
  readonly outageMs: number | null;
  readonly comfortFrames: number | null;
  readonly violations: number;
  readonly violationKinds: readonly string[];
  readonly endReason: string;
  readonly connectAttempts: readonly ConnectAttempt[];
}

function appendsMs(s: PeerSession): number {
  let bytes = 0;
  for (const r of s.received) if (r.type === 'input_audio_buffer.append') bytes += r.audioBytes ?? 0;
  return bytes / PCM24K_BYTES_PER_MS;
}

function firstAppendAt(s: PeerSession): number | undefined {
  return s.received.find((r) => r.type === 'input_audio_buffer.append')?.at;
}

/** Response ids of one session that sent audio. */
function audioResponseIds(s: PeerSession): Set<string> {
  const ids = new Set<string>();
  for (const e of s.sent) {
    if (e.type !== 'response.output_audio.delta') continue;
    const id = e.event['response_id'];
    if (typeof id === 'string' && (e.audioBytes ?? 1) > 0) ids.add(id);
  }
  return ids;
}

/** The replay a new session got before its first audio: response.create events, and whether each was owed. */
function replayCreates(s: PeerSession): { owed: number; unowed: number; lastReplayedIsToolOutput: boolean } {
  let lastItemType: string | undefined;
  let owed = 0;
  let unowed = 0;
  for (const r of s.received) {
    if (r.type === 'input_audio_buffer.append') break;
    const e = r.event;
    if (e?.type === 'conversation.item.create') lastItemType = e.item.type;
    if (e?.type === 'response.create') {
      if (lastItemType === 'function_call_output') owed++;
      else unowed++;
    }
  }
  return { owed, unowed, lastReplayedIsToolOutput: lastItemType === 'function_call_output' };
}

/** Audio (ms of the session's input timeline) after the last speech_started that no commit followed. */
function strandedSpeech(s: PeerSession): number {
  let startMs: number | undefined;
  for (const e of s.sent) {
    if (e.type === 'input_audio_buffer.speech_started') startMs = Number(e.event['audio_start_ms']);
    if (e.type === 'input_audio_buffer.committed') startMs = undefined;
  }
  return startMs === undefined || !Number.isFinite(startMs) ? 0 : Math.max(0, appendsMs(s) - startMs);
}

export function measureCall(i: CallInputs): CallResult {
  const { kind, report, summary, sessions, fault } = i;
  const faultAt = fault?.injectedAt ?? null;
  const hitIndex = fault?.session?.index ?? -1;
  const after = fault === undefined ? [] : sessions.filter((s) => s.index > hitIndex);
  const firstNew = after[0];
  const recoveredAt = after.map(firstAppendAt).find((t) => t !== undefined);

  const callerSentMs = report.framesSent * 20;
  const callerReachedMs = sessions.reduce((ms, s) => ms + appendsMs(s), 0);

  const userTurns = sessions.reduce((n, s) => n + s.sentOfType('input_audio_buffer.committed').length, 0);
  const audioResponses = sessions.reduce((n, s) => n + audioResponseIds(s).size, 0);
  let unowed = 0;
  let owedMissing = false;
  for (const s of after) {
    const r = replayCreates(s);
    unowed += r.unowed;
    if (r.lastReplayedIsToolOutput && r.owed === 0) owedMissing = true;
  }
  const comfortMs = (summary?.comfortFrames ?? 0) * COMFORT_FRAME_MS;
  const assistantHeardMs = Math.max(0, report.audioReceivedMs - comfortMs);
  const heardBoundMs = Math.min(audioResponses, userTurns) * i.replyMs;
  const gotFallback = i.fallbackAt !== undefined || summary?.outcome === 'fallback';

  return {
    kind: kind.id,
    index: i.index,
    callSid: report.callSid,
    faultFired: kind.arm === undefined ? true : fault !== undefined,
    faultAt,
    closeRecordLagMs: fault?.session?.closed && faultAt !== null ? fault.session.closed.at - faultAt : null,
    recoveryMs: faultAt !== null && recoveredAt !== undefined ? recoveredAt - faultAt : null,
    reopenMs: faultAt !== null && firstNew !== undefined ? firstNew.openedAt - faultAt : null,
    fallbackMs: faultAt !== null && i.fallbackAt !== undefined ? i.fallbackAt - faultAt : null,
    sessions: sessions.length,
    callerSentMs,
    callerReachedMs,
    gapFilledMs: summary?.gapFilledMs ?? 0,
    resentMs: summary?.callerAudioResentMs ?? 0,
    callerLostMs: callerSentMs - (callerReachedMs - (summary?.gapFilledMs ?? 0) - (summary?.callerAudioResentMs ?? 0)),
    bridgeDroppedMs: summary?.callerAudioDroppedMs ?? null,
    // Speech left uncommitted in the faulted session that the bridge did not give the new session again.
    strandedSpeechMs: fault?.session === undefined ? null : Math.max(0, strandedSpeech(fault.session) - (summary?.callerAudioResentMs ?? 0)),
    userTurns,
    audioResponses,
    duplicateResponses: Math.max(0, audioResponses - userTurns),
    unowedResponseCreates: unowed,
    owedResponseMissing: owedMissing,
    assistantHeardMs,
    heardBoundMs,
    heardOverBound: assistantHeardMs > heardBoundMs + HEARD_SLACK_MS * Math.max(1, userTurns),
    utterances: report.speech.length,
    answered: report.latenciesMs.length,
    gotFallback,
    missedFallback: kind.fallbackDue && !gotFallback,
    spuriousFallback: !kind.fallbackDue && gotFallback,
    outcome: summary?.outcome ?? null,
    reconnects: summary?.reconnects ?? null,
    outageMs: summary?.outageMs ?? null,
    comfortFrames: summary?.comfortFrames ?? null,
    violations: report.violations.length,
    violationKinds: [...new Set(report.violations.map((v) => v.kind))],
    endReason: report.endReason,
    connectAttempts: i.attempts,
  };
}
