// Owns the bridge's metric instruments and the typed methods the call path
// uses to record them. Built from an OTel Meter, so it costs nothing beyond a
// few no-op calls when no MeterProvider is registered. Hot-path methods
// (per frame) never allocate: attribute objects are built once, and frame
// counts are plain integers read by observable callbacks at collection time.
// Never records anything that identifies a caller (no CallSid, no numbers) as
// an attribute: metric attributes must stay low-cardinality.

import { metrics, ValueType, type Attributes, type BatchObservableResult, type Counter, type Histogram, type Meter, type Observable, type ObservableGauge, type UpDownCounter } from '@opentelemetry/api';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import {
  ATTR,
  SCOPE_NAME,
  type AuthOutcome,
  type AuthSurface,
  type CallOutcome,
  type DropReason,
  type FrameDirection,
  type PhaseOutcome,
  type RefusalReason,
  type RefusalSurface,
  type UpstreamOutcome,
} from './attributes.js';

/** Metric names, documented with their meaning in otel/README.md. */
export const METRIC = {
  callsActive: 'bridge.calls.active',
  callsEnded: 'bridge.calls.ended',
  turnLatency: 'bridge.turn.latency',
  transcodeDuration: 'bridge.transcode.duration',
  framesRelayed: 'bridge.frames.relayed',
  framesGapFilled: 'bridge.frames.gap_filled',
  framesDropped: 'bridge.frames.dropped',
  outboundLead: 'bridge.outbound.lead',
  upstreamConnects: 'bridge.upstream.connects',
  upstreamReconnects: 'bridge.upstream.reconnects',
  upstreamRollovers: 'bridge.upstream.rollovers',
  upstreamReplyTimeouts: 'bridge.upstream.reply_timeouts',
  authFailures: 'bridge.auth.failures',
  authBlocks: 'bridge.auth.blocks',
  refusals: 'bridge.refusals',
  // Semantic-convention names for Node.js runtime metrics.
  eventLoopDelayP50: 'nodejs.eventloop.delay.p50',
  eventLoopDelayP99: 'nodejs.eventloop.delay.p99',
  eventLoopDelayMax: 'nodejs.eventloop.delay.max',
} as const;

/** Bucket bounds, chosen around where each quantity is judged. */
export const BUCKETS = {
  // Voice feels natural under ~800 ms speech-end → audio; resolution matters most there.
  turnLatencyMs: [100, 200, 300, 400, 500, 600, 700, 800, 1000, 1250, 1500, 2000, 3000, 5000, 10000],
  // A 20 ms frame must transcode in well under a millisecond to leave room for many calls.
  transcodeUs: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
  // The pacer aims for a 100–200 ms lead; beyond a second barge-in feels late.
  outboundLeadMs: [0, 20, 40, 60, 80, 100, 120, 160, 200, 300, 500, 1000, 2000, 5000],
} as const;

/**
 * The per-frame histograms (transcode time, outbound lead) take one frame in this many (the first, then every 8th).
 * Each histogram record makes the SDK hash the attributes (JSON.stringify when there are any) and look up their
 * series: at every frame that was about 4 % of the bridge's CPU at 200 calls (CPU profile, bench:load --telemetry).
 * A 1-in-8 sample still gives about 6 values a second per call; frame counts come from bridge.frames.relayed.
 */
export const FRAME_SAMPLE_EVERY = 8;

const CALL_OUTCOMES: readonly CallOutcome[] = ['completed', 'caller_hangup', 'upstream_failed', 'fallback', 'rejected', 'error', 'drained'];
const UPSTREAM_OUTCOMES: readonly UpstreamOutcome[] = ['ok', 'rejected', 'auth_failed', 'closed', 'timeout', 'error', 'abandoned'];
const PHASE_OUTCOMES: readonly PhaseOutcome[] = ['ok', 'failed', 'gave_up'];
const DROP_REASONS: readonly DropReason[] = ['backpressure', 'malformed', 'late', 'upstream_down', 'cancelled'];
const DIRECTIONS: readonly FrameDirection[] = ['in', 'out'];

/** One frozen attribute object per value, so recording never builds one. */
function attrsFor<T extends string>(key: string, values: readonly T[]): Readonly<Record<T, Attributes>> {
  const out = {} as Record<T, Attributes>;
  for (const v of values) out[v] = Object.freeze({ [key]: v });
  return Object.freeze(out);
}

/** One frozen attribute object per pair of values, built on first use (for pairs from two closed unions). */
function pairAttrs(cache: Map<string, Attributes>, k1: string, v1: string, k2: string, v2: string): Attributes {
  const key = `${v1}|${v2}`;
  let attrs = cache.get(key);
  if (!attrs) {
    attrs = Object.freeze({ [k1]: v1, [k2]: v2 });
    cache.set(key, attrs);
  }
  return attrs;
}

export class BridgeMetrics {
  private readonly activeCalls: UpDownCounter;
  private readonly callsEnded: Counter;
  private readonly turnLatencyHist: Histogram;
  private readonly transcodeHist: Histogram;
  private readonly leadHist: Histogram;
  private readonly connects: Counter;
  private readonly reconnects: Counter;
  private readonly rollovers: Counter;
  private readonly replyTimeouts: Counter;
  private readonly authFailureCounter: Counter;
  private readonly authBlockCounter: Counter;
  private readonly refusalCounter: Counter;
  /** surface|reason → attributes; bounded by the two closed unions. */
  private readonly refusalAttrs = new Map<string, Attributes>();

  private readonly outcomeAttrs = attrsFor(ATTR.callOutcome, CALL_OUTCOMES);
  private readonly upstreamAttrs = attrsFor(ATTR.upstreamOutcome, UPSTREAM_OUTCOMES);
  private readonly phaseAttrs = attrsFor(ATTR.outcome, PHASE_OUTCOMES);
  private readonly dropAttrs = attrsFor(ATTR.dropReason, DROP_REASONS);
  private readonly directionAttrs = attrsFor(ATTR.frameDirection, DIRECTIONS);
  /** surface|reason → attributes; bounded by the two closed unions. */
  private readonly authAttrs = new Map<string, Attributes>();

  // Per-frame counts: plain integers, observed at collection time.
  private framesIn = 0;
  private framesOut = 0;
  private gapFilled = 0;
  private readonly dropped: Record<DropReason, number> = { backpressure: 0, malformed: 0, late: 0, upstream_down: 0, cancelled: 0 };
  /** Frames seen by each sampled histogram, for FRAME_SAMPLE_EVERY. */
  private readonly transcodesSeen: Record<FrameDirection, number> = { in: 0, out: 0 };
  private leadsSeen = 0;

  private loopMonitor: IntervalHistogram | undefined;
  private readonly loopObservables: ObservableGauge[] = [];
  private readonly frameObservables: Observable[] = [];
  private readonly frameCallback: (result: BatchObservableResult) => void;
  private readonly loopCallback: (result: BatchObservableResult) => void;
  private readonly meter: Meter;

  constructor(meter: Meter = metrics.getMeter(SCOPE_NAME)) {
    this.meter = meter;
    this.activeCalls = meter.createUpDownCounter(METRIC.callsActive, { description: 'Calls with an open media stream', unit: '{call}', valueType: ValueType.INT });
    this.callsEnded = meter.createCounter(METRIC.callsEnded, { description: 'Calls ended, by outcome', unit: '{call}', valueType: ValueType.INT });
    this.turnLatencyHist = meter.createHistogram(METRIC.turnLatency, {
      description: "Caller's speech end to the first assistant audio sent to Twilio",
      unit: 'ms',
      advice: { explicitBucketBoundaries: [...BUCKETS.turnLatencyMs] },
    });
    this.transcodeHist = meter.createHistogram(METRIC.transcodeDuration, {
      description: 'Time to transcode one audio frame, by direction (one frame in 8 sampled)',
      unit: 'us',
      advice: { explicitBucketBoundaries: [...BUCKETS.transcodeUs] },
    });
    this.leadHist = meter.createHistogram(METRIC.outboundLead, {
      description: 'Outbound audio sent ahead of what the caller has heard, at one send in 8',
      unit: 'ms',
      advice: { explicitBucketBoundaries: [...BUCKETS.outboundLeadMs] },
    });
    this.connects = meter.createCounter(METRIC.upstreamConnects, { description: 'Upstream connect attempts, by outcome', unit: '{attempt}', valueType: ValueType.INT });
    this.reconnects = meter.createCounter(METRIC.upstreamReconnects, { description: 'Unplanned upstream reconnects, by outcome', unit: '{reconnect}', valueType: ValueType.INT });
    this.rollovers = meter.createCounter(METRIC.upstreamRollovers, { description: 'Planned session rollovers before the session cap, by outcome', unit: '{rollover}', valueType: ValueType.INT });
    this.replyTimeouts = meter.createCounter(METRIC.upstreamReplyTimeouts, {
      description: 'AI sessions given up because they owed the caller a reply and gave none in time',
      unit: '{session}',
      valueType: ValueType.INT,
    });
    this.authFailureCounter = meter.createCounter(METRIC.authFailures, { description: 'Rejected requests, by surface and reason', unit: '{request}', valueType: ValueType.INT });
    this.authBlockCounter = meter.createCounter(METRIC.authBlocks, {
      description: 'Addresses blocked after too many authentication failures',
      unit: '{address}',
      valueType: ValueType.INT,
    });
    this.refusalCounter = meter.createCounter(METRIC.refusals, {
      description: 'Requests, sockets and calls turned away other than for failed credentials, by surface and reason',
      unit: '{refusal}',
      valueType: ValueType.INT,
    });

    const relayed = meter.createObservableCounter(METRIC.framesRelayed, { description: '20 ms audio frames relayed, by direction', unit: '{frame}', valueType: ValueType.INT });
    const filled = meter.createObservableCounter(METRIC.framesGapFilled, { description: 'Silence frames inserted where the phone network dropped packets', unit: '{frame}', valueType: ValueType.INT });
    const droppedCounter = meter.createObservableCounter(METRIC.framesDropped, { description: 'Frames dropped, by reason', unit: '{frame}', valueType: ValueType.INT });
    this.frameCallback = (result) => {
      result.observe(relayed, this.framesIn, this.directionAttrs.in);
      result.observe(relayed, this.framesOut, this.directionAttrs.out);
      result.observe(filled, this.gapFilled);
      for (const reason of DROP_REASONS) {
        const n = this.dropped[reason];
        if (n > 0) result.observe(droppedCounter, n, this.dropAttrs[reason]);
      }
    };
    this.frameObservables.push(relayed, filled, droppedCounter);
    meter.addBatchObservableCallback(this.frameCallback, this.frameObservables);

    const p50 = meter.createObservableGauge(METRIC.eventLoopDelayP50, { description: 'Event loop delay, 50th percentile since the last collection', unit: 's' });
    const p99 = meter.createObservableGauge(METRIC.eventLoopDelayP99, { description: 'Event loop delay, 99th percentile since the last collection', unit: 's' });
    const max = meter.createObservableGauge(METRIC.eventLoopDelayMax, { description: 'Event loop delay, maximum since the last collection', unit: 's' });
    this.loopObservables.push(p50, p99, max);
    this.loopCallback = (result) => {
      // Started on the first collection: with no reader registered the monitor never runs.
      if (!this.loopMonitor) {
        this.loopMonitor = monitorEventLoopDelay({ resolution: 20 });
        this.loopMonitor.enable();
        return;
      }
      const h = this.loopMonitor;
      if (h.count > 0) {
        result.observe(p50, h.percentile(50) / 1e9);
        result.observe(p99, h.percentile(99) / 1e9);
        result.observe(max, h.max / 1e9);
      }
      h.reset();
    };
    meter.addBatchObservableCallback(this.loopCallback, this.loopObservables);
  }

  /** A media stream started carrying a call. */
  callStarted(): void {
    this.activeCalls.add(1);
  }

  /** The call's stream ended; pair with exactly one callStarted(). */
  callEnded(outcome: CallOutcome): void {
    this.activeCalls.add(-1);
    this.callsEnded.add(1, this.outcomeAttrs[outcome]);
  }

  /** Speech end → first assistant audio out, in milliseconds (TurnTracker calls this). */
  turnLatency(ms: number): void {
    this.turnLatencyHist.record(ms);
  }

  /** Hot path: one frame's transcode time in microseconds; recorded for one frame in FRAME_SAMPLE_EVERY. */
  transcode(direction: FrameDirection, microseconds: number): void {
    if (this.transcodesSeen[direction]++ % FRAME_SAMPLE_EVERY !== 0) return;
    this.transcodeHist.record(microseconds, this.directionAttrs[direction]);
  }

  /** Hot path: frames relayed caller → AI. */
  framesInbound(count = 1): void {
    this.framesIn += count;
  }

  /** Hot path: frames relayed AI → caller. */
  framesOutbound(count = 1): void {
    this.framesOut += count;
  }

  /** Silence frames inserted for a timestamp gap. */
  framesGapFilled(count: number): void {
    this.gapFilled += count;
  }

  framesDropped(reason: DropReason, count = 1): void {
    this.dropped[reason] += count;
  }

  /** Outbound lead ahead of playback, in milliseconds, sampled when audio is sent. */
  outboundLead(ms: number): void {
    if (this.leadsSeen++ % FRAME_SAMPLE_EVERY !== 0) return;
    this.leadHist.record(ms);
  }

  upstreamConnect(outcome: UpstreamOutcome): void {
    this.connects.add(1, this.upstreamAttrs[outcome]);
  }

  reconnect(outcome: PhaseOutcome): void {
    this.reconnects.add(1, this.phaseAttrs[outcome]);
  }

  rollover(outcome: PhaseOutcome): void {
    this.rollovers.add(1, this.phaseAttrs[outcome]);
  }

  /** A session owed the caller a reply and gave none within AI_REPLY_TIMEOUT_MS. */
  replyTimeout(): void {
    this.replyTimeouts.add(1);
  }

  authFailure(surface: AuthSurface, reason: Exclude<AuthOutcome, 'ok'>): void {
    this.authFailureCounter.add(1, pairAttrs(this.authAttrs, ATTR.authSurface, surface, ATTR.authReason, reason));
  }

  /** An address went past the auth-failure limit and is refused for the cool-down. */
  addressBlocked(): void {
    this.authBlockCounter.add(1);
  }

  refused(surface: RefusalSurface, reason: RefusalReason): void {
    this.refusalCounter.add(1, pairAttrs(this.refusalAttrs, ATTR.refusalSurface, surface, ATTR.refusalReason, reason));
  }

  /** Stops the event-loop monitor and detaches observable callbacks (tests, shutdown). */
  close(): void {
    this.meter.removeBatchObservableCallback(this.frameCallback, this.frameObservables);
    this.meter.removeBatchObservableCallback(this.loopCallback, this.loopObservables);
    this.loopMonitor?.disable();
    this.loopMonitor = undefined;
  }
}
