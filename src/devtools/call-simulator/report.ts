// Owns the CallReport: the typed record of one simulated call that tests
// assert on and the CLI prints, plus the derived numbers (turn latencies)
// and a human-readable summary. Never holds the auth token.

import type { ProtocolViolation } from './bridge-messages.js';
import type { ClearRecord, MarkRecord, PlaybackSpan } from './playback.js';
import type { ScriptTimeout, SpeechSegment } from './script.js';

export type CloseInitiator = 'simulator' | 'bridge' | 'none';

export interface MediaReceived {
  /** Stream time the message arrived. */
  readonly atMs: number;
  /** μ-law bytes = 8 kHz samples. */
  readonly samples: number;
}

export interface Turn {
  /** The caller's speech this turn answers. */
  readonly speech: SpeechSegment;
  /** When the caller first heard assistant audio starting after the caller stopped speaking. */
  readonly playbackStartMs?: number;
  /** playbackStartMs − speech.voiceEndMs: the response latency the caller experienced. */
  readonly latencyMs?: number;
}

export interface CallReport {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;

  readonly webhook: { readonly status: number; readonly body: string; readonly ms: number };
  readonly twiml: string;
  /** Why the TwiML was unusable, if it was. */
  readonly twimlError?: string;
  readonly streamUrl?: string;
  readonly parameters: Readonly<Record<string, string>>;
  /** 101 when the socket opened; the HTTP status when refused; undefined when never tried. */
  readonly upgradeStatus?: number;
  readonly upgradeMs?: number;

  readonly framesSent: number;
  /** Frame slots not sent (dropped silent frames or configured drops): the timestamp jumps over them. */
  readonly framesDropped: number;
  readonly dtmfSent: number;

  /** What the caller heard, 8 kHz PCM16 from stream start, silence where nothing played. */
  readonly heard: Int16Array;
  readonly audioReceivedMs: number;
  readonly media: readonly MediaReceived[];
  readonly playback: readonly PlaybackSpan[];
  /** Most audio queued ahead of playback at any moment (how far the bridge ran ahead). */
  readonly maxLeadMs: number;
  /** Audio thrown away by clears. */
  readonly discardedMs: number;
  /** Audio still queued when the stream ended (never heard). */
  readonly unplayedAtEndMs: number;

  readonly marks: readonly MarkRecord[];
  readonly marksSent: number;
  readonly marksAcked: number;
  readonly clears: readonly ClearRecord[];

  readonly speech: readonly SpeechSegment[];
  readonly turns: readonly Turn[];
  /** Latencies of the turns that got an answer, in order. */
  readonly latenciesMs: readonly number[];
  readonly scriptTimeouts: readonly ScriptTimeout[];

  readonly violations: readonly ProtocolViolation[];
  /** Bridge messages that arrived after the simulator sent stop (not violations: they crossed in flight). */
  readonly messagesAfterStop: number;

  readonly closedBy: CloseInitiator;
  readonly closeCode?: number;
  readonly closeReason?: string;
  /** Why the simulator hung up (script end, hangup step, max duration) or the error that ended the call. */
  readonly endReason: string;
  /** Stream time from start to the end of the stream. */
  readonly durationMs: number;
}

/**
 * Pairs each caller utterance with the first stretch of assistant audio that
 * began after the caller stopped speaking and before the next utterance
 * began. An assistant reply that was already playing (not cleared by a
 * barge-in) does not count as an answer.
 */
export function computeTurns(speech: readonly SpeechSegment[], spans: readonly PlaybackSpan[]): Turn[] {
  const turns: Turn[] = [];
  for (let i = 0; i < speech.length; i++) {
    const seg = speech[i]!;
    const nextStart = speech[i + 1]?.startMs ?? Infinity;
    const span = spans.find((s) => s.startMs >= seg.voiceEndMs && s.startMs < nextStart);
    turns.push(span ? { speech: seg, playbackStartMs: span.startMs, latencyMs: span.startMs - seg.voiceEndMs } : { speech: seg });
  }
  return turns;
}

const ms = (v: number): string => `${Math.round(v)} ms`;

/** A short multi-line summary for people (the CLI, test failure messages). */
export function formatReport(r: CallReport): string {
  const lines = [
    `call ${r.callSid} stream ${r.streamSid}`,
    `webhook: HTTP ${r.webhook.status} in ${ms(r.webhook.ms)}${r.twimlError ? ` (TwiML: ${r.twimlError})` : ''}`,
    `stream: ${r.streamUrl ?? '-'} upgrade ${r.upgradeStatus ?? '-'}${r.upgradeMs !== undefined ? ` in ${ms(r.upgradeMs)}` : ''}`,
    `parameters: ${JSON.stringify(r.parameters)}`,
    `caller: ${r.framesSent} frames sent, ${r.framesDropped} dropped, ${r.dtmfSent} dtmf, ${r.speech.length} utterances`,
    `heard: ${ms(r.audioReceivedMs)} received in ${r.media.length} messages, max lead ${ms(r.maxLeadMs)}, ` +
      `discarded ${ms(r.discardedMs)}, unplayed at end ${ms(r.unplayedAtEndMs)}`,
    `marks: ${r.marksSent} received, ${r.marksAcked} echoed; clears: ${r.clears.length}`,
    `latency: ${r.turns.map((t) => (t.latencyMs === undefined ? 'none' : ms(t.latencyMs))).join(', ') || '-'}`,
    `script timeouts: ${r.scriptTimeouts.map((t) => `${t.step} @${ms(t.atMs)}`).join(', ') || 'none'}`,
    `violations: ${r.violations.length}${r.violations.slice(0, 5).map((v) => `\n  @${ms(v.atMs)} ${v.kind}: ${v.detail}`).join('')}`,
    `end: ${r.endReason}; closed by ${r.closedBy} (${r.closeCode ?? '-'} ${r.closeReason ?? ''}) after ${ms(r.durationMs)}`,
  ];
  return lines.join('\n');
}
