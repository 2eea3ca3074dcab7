// Owns turning per-call results into one row per fault kind and rendering
// the rows as a console/Markdown table. Pure.

import type { FaultKind } from './faults.js';
import type { CallFailure } from './call-run.js';
import type { CallResult } from './measure.js';

/** Recovery target for an upstream that accepts at once (issue 4). */
export const RECOVERY_P95_TARGET_MS = 300;

export interface Spread {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

/** Nearest-rank percentiles: with 10 samples p95 is the largest. */
export function spread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, p50: rank(0.5), p95: rank(0.95), max: s[s.length - 1]! };
}

export interface KindRow {
  readonly kind: string;
  readonly label: string;
  readonly note: string;
  readonly calls: number;
  readonly failedToRun: number;
  readonly faultFired: number;
  readonly fallbackDue: boolean;
  readonly recoveryMs: Spread | null;
  readonly reopenMs: Spread | null;
  /** 'met' / 'missed' for kinds whose upstream accepts at once; null otherwise. */
  readonly recoveryTarget: 'met' | 'missed' | null;
  readonly fallbackMs: Spread | null;
  /** Per-call caller audio lost (sent − reached), calls that were not handed off. */
  readonly callerLostMs: Spread | null;
  readonly callerLostTotalMs: number;
  readonly callsLosingAudio: number;
  readonly bridgeDroppedMs: number;
  /** Calls in which the bridge inserted silence on its own, and how much in all. */
  readonly gapFilledCalls: number;
  readonly gapFilledTotalMs: number;
  /** Caller speech left in the faulted session's uncommitted input buffer. */
  readonly strandedSpeechMs: Spread | null;
  readonly duplicateResponses: number;
  readonly unowedResponseCreates: number;
  readonly owedResponseMissing: number;
  readonly heardOverBound: number;
  readonly missedFallback: number;
  readonly spuriousFallback: number;
  readonly violations: number;
  readonly utterances: number;
  readonly answered: number;
  readonly comfortFrames: number;
  readonly reconnects: number;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

export function summarise(kind: FaultKind, results: readonly (CallResult | CallFailure)[]): KindRow {
  const ok = results.filter((r): r is CallResult => !('error' in r));
  const fired = ok.filter((r) => r.faultFired);
  const recovery = spread(fired.flatMap((r) => (r.recoveryMs === null ? [] : [r.recoveryMs])));
  const kept = ok.filter((r) => !r.gotFallback);
  const lost = kept.map((r) => r.callerLostMs);
  return {
    kind: kind.id,
    label: kind.label,
    note: kind.note,
    calls: results.length,
    failedToRun: results.length - ok.length,
    faultFired: fired.length,
    fallbackDue: kind.fallbackDue,
    recoveryMs: kind.fallbackDue ? null : recovery,
    reopenMs: kind.fallbackDue ? null : spread(fired.flatMap((r) => (r.reopenMs === null ? [] : [r.reopenMs]))),
    recoveryTarget: kind.acceptsAtOnce && recovery !== null ? (recovery.p95 <= RECOVERY_P95_TARGET_MS && recovery.n === fired.length ? 'met' : 'missed') : null,
    fallbackMs: spread(fired.flatMap((r) => (r.fallbackMs === null ? [] : [r.fallbackMs]))),
    callerLostMs: spread(lost),
    callerLostTotalMs: sum(lost),
    callsLosingAudio: lost.filter((ms) => ms > 0).length,
    bridgeDroppedMs: sum(ok.map((r) => r.bridgeDroppedMs ?? 0)),
    gapFilledCalls: ok.filter((r) => r.gapFilledMs > 0).length,
    gapFilledTotalMs: sum(ok.map((r) => r.gapFilledMs)),
    strandedSpeechMs: spread(fired.flatMap((r) => (r.strandedSpeechMs === null ? [] : [r.strandedSpeechMs]))),
    duplicateResponses: sum(ok.map((r) => r.duplicateResponses)),
    unowedResponseCreates: sum(ok.map((r) => r.unowedResponseCreates)),
    owedResponseMissing: ok.filter((r) => r.owedResponseMissing).length,
    heardOverBound: ok.filter((r) => r.heardOverBound).length,
    missedFallback: ok.filter((r) => r.missedFallback).length,
    spuriousFallback: ok.filter((r) => r.spuriousFallback).length,
    violations: sum(ok.map((r) => r.violations)),
    utterances: sum(ok.map((r) => r.utterances)),
    answered: sum(ok.map((r) => r.answered)),
    comfortFrames: sum(ok.map((r) => r.comfortFrames ?? 0)),
    reconnects: sum(ok.map((r) => r.reconnects ?? 0)),
  };
}

const ms = (v: number): string => String(Math.round(v));
const triple = (s: Spread | null): string => (s === null ? '—' : `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.max)}`);

export const TABLE_HEADER = [
  'fault',
  'calls (fault fired)',
  'recovery ms p50 / p95 / max',
  '≤ 300 ms p95',
  'caller audio lost ms p50 / p95 / max (calls > 0)',
  'bridge-dropped ms',
  'duplicate responses',
  'unowed response.create',
  'heard > distinct replies',
  'fallback: missed / spurious',
  'drop → fallback ms p50 / max',
  'violations',
  'turns answered',
];

export function tableCells(r: KindRow): string[] {
  const lost = r.fallbackDue ? 'n/a (handed off)' : r.callerLostMs === null ? '—' : `${triple(r.callerLostMs)} (${r.callsLosingAudio})`;
  return [
    r.label,
    `${r.calls}${r.kind === 'none' ? '' : ` (${r.faultFired})`}${r.failedToRun > 0 ? `, ${r.failedToRun} failed to run` : ''}`,
    r.fallbackDue ? 'n/a (fallback due)' : triple(r.recoveryMs),
    r.recoveryTarget === null ? '—' : r.recoveryTarget === 'met' ? 'yes' : 'NO',
    lost,
    ms(r.bridgeDroppedMs),
    String(r.duplicateResponses),
    String(r.unowedResponseCreates) + (r.owedResponseMissing > 0 ? ` (owed missing: ${r.owedResponseMissing})` : ''),
    String(r.heardOverBound),
    `${r.missedFallback} / ${r.spuriousFallback}`,
    r.fallbackMs === null ? '—' : `${ms(r.fallbackMs.p50)} / ${ms(r.fallbackMs.max)}`,
    String(r.violations),
    r.fallbackDue ? 'n/a' : `${r.answered} / ${r.utterances}`,
  ];
}

export function markdownTable(rows: readonly KindRow[]): string {
  const lines = [`| ${TABLE_HEADER.join(' | ')} |`, `|${TABLE_HEADER.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${tableCells(r).join(' | ')} |`);
  return lines.join('\n');
}

/** Fixed-width text table for stdout. */
export function consoleTable(rows: readonly KindRow[]): string {
  const head = ['fault', 'calls', 'recovery p50/p95/max', '≤300', 'lost ms p50/p95/max (n>0)', 'dropped', 'dup', 'unowed', 'heard>', 'fb miss/spur', 'fallback p50/max', 'viol', 'answered'];
  const body = rows.map(tableCells);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const fmt = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmt)].join('\n');
}
