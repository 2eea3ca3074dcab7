// Owns one simulated call end to end, in Twilio's role: webhook, signed
// upgrade, connected/start, caller frames paced on the stream clock, bridge
// messages validated and fed to the playback model, mark echoes, stop and
// close, and the report. Time comes from an injectable clock and moves only
// in `tick()` and message handlers, so an external clock can drive many calls
// (a load generator calls `tick()` on each); by default a per-call interval
// timer drives it.

import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { writeWav } from '../../audio/wav.js';
import { parseBridgeMessage, type ProtocolViolation, type ViolationKind } from './bridge-messages.js';
import { ClipCache, DEFAULT_SILENCE_THRESHOLD, FRAME_MS } from './caller-audio.js';
import { newCallSid, newStreamSid } from './ids.js';
import { connectedMessage, dtmfMessage, markEchoMessage, mediaMessage, startMessage, stopMessage } from './messages.js';
import { PLAYBACK_RATE, TwilioPlayback } from './playback.js';
import { computeTurns, type CallReport, type CloseInitiator, type MediaReceived } from './report.js';
import { CallScript, type CallStep } from './script.js';
import { openStream } from './stream-client.js';
import { postVoiceWebhook, voiceWebhookParams, VOICE_PATH } from './webhook-client.js';

export interface SimulatedCallOptions {
  /** Where the bridge listens, e.g. http://127.0.0.1:8080. */
  readonly bridgeUrl: string;
  /** The public https origin configured on the bridge (what Twilio signs), e.g. https://voice.example.com. */
  readonly publicUrl: string;
  readonly authToken: string;
  readonly accountSid: string;
  readonly from?: string;
  readonly to?: string;
  /** Random CA… when absent. */
  readonly callSid?: string;
  /** Random MZ… when absent. */
  readonly streamSid?: string;
  /** Extra webhook form fields (may override the standard ones). */
  readonly webhookParams?: Readonly<Record<string, string>>;
  readonly webhookPath?: string;
  readonly script: readonly CallStep[];
  /** Write what the caller heard to this WAV (8 kHz PCM16 mono) at the end. */
  readonly recordWav?: string;
  /** Keep the heard timeline in the report. Default true; load runs may turn it off. */
  readonly recordHeard?: boolean;
  /** Skip frames whose audio is silent, as the phone network does: the timestamp jumps. */
  readonly dropSilentFrames?: boolean;
  /** Skip these frame slots (0-based; slot k covers stream time [20k, 20k+20) ms). */
  readonly dropFrames?: ReadonlySet<number> | ((slot: number) => boolean);
  /** Peak |sample| at or below which a caller frame counts as silent. */
  readonly silenceThreshold?: number;
  /** Hang up after this much stream time whatever the script says. Default 120 s. */
  readonly maxDurationMs?: number;
  /** Monotonic milliseconds. Default performance.now. */
  readonly clock?: () => number;
  /** Internal timer period: bounds how late a mark echo or a frame can be. Default 10 ms. */
  readonly tickMs?: number;
  /** When true no internal timer runs: the owner calls `tick()` (a shared clock for many calls). */
  readonly externalTicks?: boolean;
  /** Share framed caller audio between calls (a load generator saying the same WAV many times). */
  readonly clips?: ClipCache;
  /** How long to wait for the bridge's close frame after sending stop. Default 2 s. */
  readonly closeTimeoutMs?: number;
}

type Phase = 'idle' | 'dialling' | 'streaming' | 'closing' | 'done';

const CLOSE_NORMAL = 1000;
/**
 * Half a frame: frames still go out on the 20 ms grid (a tick sends whatever
 * is due), but mark echoes are at most 10 ms late instead of 20.
 */
const DEFAULT_TICK_MS = 10;

export class SimulatedCall {
  readonly callSid: string;
  readonly streamSid: string;

  private readonly clock: () => number;
  private readonly playback: TwilioPlayback;
  private readonly script: CallScript;
  private readonly dropSlot: (slot: number) => boolean;

  private phase: Phase = 'idle';
  private ws: WebSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  /** Clock reading when `start` was sent: stream time zero. */
  private t0 = 0;
  private endMs = 0;
  private seq = 0;
  private chunk = 0;
  private nextSlot = 0;

  private framesSent = 0;
  private framesDropped = 0;
  private dtmfSent = 0;
  private marksAcked = 0;
  private messagesAfterStop = 0;
  private readonly media: MediaReceived[] = [];
  private readonly violations: ProtocolViolation[] = [];
  private closedBy: CloseInitiator = 'none';
  private closeCode: number | undefined;
  private closeReason: string | undefined;
  private endReason = '';
  /** Set by a hangup while dialling: the stream must not start. */
  private abortReason: string | undefined;

  private webhook = { status: 0, body: '', ms: 0 };
  private twimlError: string | undefined;
  private streamUrl: string | undefined;
  private parameters: Readonly<Record<string, string>> = {};
  private upgradeStatus: number | undefined;
  private upgradeMs: number | undefined;

  private resolveDone!: (r: CallReport) => void;
  private rejectDone!: (e: unknown) => void;
  /** Settles once the call is over: with the report, or with a setup error (bridge unreachable, bad WAV path). */
  readonly finished: Promise<CallReport>;

  constructor(private readonly opts: SimulatedCallOptions) {
    this.callSid = opts.callSid ?? newCallSid();
    this.streamSid = opts.streamSid ?? newStreamSid();
    this.clock = opts.clock ?? (() => performance.now());
    this.playback = new TwilioPlayback({ record: opts.recordHeard ?? true });
    this.script = new CallScript(opts.script, opts.clips ?? new ClipCache(opts.silenceThreshold ?? DEFAULT_SILENCE_THRESHOLD));
    const drop = opts.dropFrames;
    this.dropSlot = drop === undefined ? () => false : typeof drop === 'function' ? drop : (slot) => drop.has(slot);
    this.finished = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  /** True when the owner drives `tick()` (no internal timer). */
  get externalTicks(): boolean {
    return this.opts.externalTicks ?? false;
  }

  /** Stream time now, in ms since `start` was sent. */
  get nowMs(): number {
    return this.clock() - this.t0;
  }

  /** Places the call; resolves with the report when it is over. */
  run(): Promise<CallReport> {
    if (this.phase === 'idle') {
      this.phase = 'dialling';
      this.dial().catch((err: unknown) => this.fail(err));
    }
    return this.finished;
  }

  /** Advances the call to the clock's present: due mark echoes, due caller frames. Cheap when nothing is due. */
  tick(): void {
    if (this.phase !== 'streaming') return;
    const now = this.nowMs;
    this.echoMarks(this.playback.advance(now));
    while (this.phase === 'streaming' && (this.nextSlot + 1) * FRAME_MS <= now) this.sendSlot();
    if (this.phase === 'streaming' && now >= (this.opts.maxDurationMs ?? 120_000)) this.hangup('max duration reached');
  }

  /**
   * The caller hangs up (or the call leaves the stream, e.g. its TwiML was
   * replaced): Twilio sends stop, then closes the socket. Before the stream is
   * up, the stream is simply never started.
   */
  hangup(reason = 'hangup'): void {
    if (this.phase === 'idle' || this.phase === 'dialling') {
      this.abortReason ??= reason;
      return;
    }
    if (this.phase !== 'streaming') return;
    this.endMs = this.nowMs;
    this.endReason = reason;
    this.send(stopMessage({ sequenceNumber: ++this.seq, streamSid: this.streamSid, accountSid: this.opts.accountSid, callSid: this.callSid }));
    this.phase = 'closing';
    this.closedBy = 'simulator';
    this.stopTimer();
    this.ws?.close(CLOSE_NORMAL);
    // A bridge that never answers the close frame must not hang the report.
    this.closeTimer = setTimeout(() => this.ws?.terminate(), this.opts.closeTimeoutMs ?? 2000);
  }

  private async dial(): Promise<void> {
    const o = this.opts;
    const params = voiceWebhookParams({
      callSid: this.callSid,
      accountSid: o.accountSid,
      ...(o.from !== undefined ? { from: o.from } : {}),
      ...(o.to !== undefined ? { to: o.to } : {}),
      ...(o.webhookParams !== undefined ? { extra: o.webhookParams } : {}),
    });
    const t = this.clock();
    const hook = await postVoiceWebhook({ bridgeUrl: o.bridgeUrl, publicUrl: o.publicUrl, authToken: o.authToken, params, path: o.webhookPath ?? VOICE_PATH });
    this.webhook = { status: hook.status, body: hook.body, ms: this.clock() - t };
    if (this.abortReason !== undefined) return this.finish(this.abortReason);
    this.twimlError = hook.twiml?.error;
    if (hook.stream === undefined) return this.finish(hook.status === 200 ? `no stream in TwiML: ${hook.twiml?.error ?? '?'}` : `webhook answered ${hook.status}`);
    this.streamUrl = hook.stream.url;
    this.parameters = hook.stream.parameters;

    const u = this.clock();
    const opened = await openStream({ bridgeUrl: o.bridgeUrl, streamUrl: hook.stream.url, authToken: o.authToken });
    this.upgradeStatus = opened.upgradeStatus;
    this.upgradeMs = this.clock() - u;
    if (opened.ws === undefined) return this.finish(`upgrade refused with ${opened.upgradeStatus}`);
    if (this.abortReason !== undefined) {
      opened.ws.on('error', () => {}); // closing an unused socket; nothing to report
      opened.ws.close(CLOSE_NORMAL);
      return this.finish(this.abortReason);
    }
    this.ws = opened.ws;
    this.attach(opened.ws);

    this.send(connectedMessage());
    this.send(
      startMessage({
        sequenceNumber: ++this.seq,
        streamSid: this.streamSid,
        accountSid: o.accountSid,
        callSid: this.callSid,
        customParameters: this.parameters,
      }),
    );
    this.t0 = this.clock();
    this.phase = 'streaming';
    if (!o.externalTicks) this.timer = setInterval(() => this.tick(), o.tickMs ?? DEFAULT_TICK_MS);
  }

  private attach(ws: WebSocket): void {
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString('utf8')));
    ws.on('error', (err) => {
      // A socket error is followed by 'close'; it ends the call with the error as the reason.
      if (this.endReason === '') this.endReason = `socket error: ${err.message}`;
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.phase !== 'streaming') {
      this.messagesAfterStop++;
      return;
    }
    const now = this.nowMs;
    if (isBinary) return this.violation(now, 'binary-frame', 'binary WebSocket frame (Twilio expects JSON text)', data.toString('latin1'));
    const text = data.toString('utf8');
    const parsed = parseBridgeMessage(text, this.streamSid);
    if (!parsed.ok) return this.violation(now, parsed.kind, parsed.detail, text);
    const m = parsed.message;
    switch (m.event) {
      case 'media':
        this.echoMarks(this.playback.advance(now));
        this.playback.enqueue(now, m.audio);
        this.media.push({ atMs: now, samples: m.audio.length });
        break;
      case 'mark':
        this.echoMarks(this.playback.mark(now, m.name));
        break;
      case 'clear':
        this.echoMarks(this.playback.clear(now));
        break;
    }
  }

  private onClose(code: number, reason: string): void {
    if (this.phase === 'streaming') {
      this.endMs = this.nowMs;
      this.closedBy = 'bridge';
      if (this.endReason === '') this.endReason = 'bridge closed the stream';
    }
    this.closeCode = code;
    this.closeReason = reason;
    this.finish(this.endReason);
  }

  private sendSlot(): void {
    const slot = this.nextSlot;
    const d = this.script.nextFrame(slot * FRAME_MS, this.playback);
    for (const digit of d.dtmf) {
      this.send(dtmfMessage({ sequenceNumber: ++this.seq, streamSid: this.streamSid, digit }));
      this.dtmfSent++;
    }
    if (d.hangup) return this.hangup(this.script.finished ? 'script finished' : 'hangup step');
    this.nextSlot++;
    if ((this.opts.dropSilentFrames && d.silent) || this.dropSlot(slot)) {
      this.framesDropped++;
      return;
    }
    this.send(mediaMessage({ sequenceNumber: ++this.seq, streamSid: this.streamSid, chunk: ++this.chunk, timestamp: slot * FRAME_MS, payload: d.payload }));
    this.framesSent++;
  }

  private echoMarks(names: readonly string[]): void {
    for (const name of names) {
      this.send(markEchoMessage({ sequenceNumber: ++this.seq, streamSid: this.streamSid, name }));
      this.marksAcked++;
    }
  }

  private send(text: string): void {
    const ws = this.ws;
    if (ws !== undefined && ws.readyState === ws.OPEN) ws.send(text);
  }

  private violation(atMs: number, kind: ViolationKind, detail: string, raw: string): void {
    this.violations.push({ atMs, kind, detail, raw: raw.slice(0, 200) });
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private fail(err: unknown): void {
    this.stopTimer();
    this.ws?.terminate();
    this.phase = 'done';
    this.rejectDone(err);
  }

  private finish(reason: string): void {
    if (this.phase === 'done') return;
    this.phase = 'done';
    this.stopTimer();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    if (this.endReason === '') this.endReason = reason;
    try {
      const report = this.buildReport();
      if (this.opts.recordWav !== undefined) writeWav(this.opts.recordWav, { sampleRate: PLAYBACK_RATE, samples: report.heard });
      this.resolveDone(report);
    } catch (err) {
      this.rejectDone(err);
    }
  }

  private buildReport(): CallReport {
    const p = this.playback;
    const end = this.endMs;
    // Only what played before the stream ended was heard.
    const spans = p.spans.filter((s) => s.startMs < end).map((s) => ({ startMs: s.startMs, endMs: Math.min(s.endMs, end) }));
    const turns = computeTurns(this.script.segments, spans);
    return {
      callSid: this.callSid,
      streamSid: this.streamSid,
      accountSid: this.opts.accountSid,
      webhook: this.webhook,
      twiml: this.webhook.body,
      ...(this.twimlError !== undefined ? { twimlError: this.twimlError } : {}),
      ...(this.streamUrl !== undefined ? { streamUrl: this.streamUrl } : {}),
      parameters: this.parameters,
      ...(this.upgradeStatus !== undefined ? { upgradeStatus: this.upgradeStatus } : {}),
      ...(this.upgradeMs !== undefined ? { upgradeMs: this.upgradeMs } : {}),
      framesSent: this.framesSent,
      framesDropped: this.framesDropped,
      dtmfSent: this.dtmfSent,
      heard: p.heard(end),
      audioReceivedMs: (p.receivedSamples / PLAYBACK_RATE) * 1000,
      media: this.media,
      playback: spans,
      maxLeadMs: (p.maxLeadSamples / PLAYBACK_RATE) * 1000,
      discardedMs: (p.discardedSamples / PLAYBACK_RATE) * 1000,
      unplayedAtEndMs: p.queuedMs(end),
      marks: p.marks,
      marksSent: p.marks.length,
      marksAcked: this.marksAcked,
      clears: p.clears,
      speech: this.script.segments,
      turns,
      latenciesMs: turns.flatMap((t) => (t.latencyMs === undefined ? [] : [t.latencyMs])),
      scriptTimeouts: this.script.timeouts,
      violations: this.violations,
      messagesAfterStop: this.messagesAfterStop,
      closedBy: this.closedBy,
      ...(this.closeCode !== undefined ? { closeCode: this.closeCode } : {}),
      ...(this.closeReason !== undefined ? { closeReason: this.closeReason } : {}),
      endReason: this.endReason,
      durationMs: end,
    };
  }
}

/**
 * Places one simulated call against a running bridge and resolves with its
 * report. Rejects (never throws synchronously) on setup errors: an unreadable
 * WAV, a bridge that cannot be reached.
 */
export async function runSimulatedCall(opts: SimulatedCallOptions): Promise<CallReport> {
  return new SimulatedCall(opts).run();
}
