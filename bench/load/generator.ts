// Bench-only load generator for `npm run bench:load`: plays Twilio (N
// simulated calls) and the realtime AI (a lean scripted peer) against one
// bridge, in one process, on ONE shared clock, so every frame is timestamped
// where it leaves and where it comes back on the same clock.
//
// Lean by design (the generator shares a 2-core machine with the bridge):
// - one timer for all calls; calls are spread over 10 phase buckets 2 ms
//   apart, as real streams arrive with independent phases;
// - media is never JSON-parsed: appends from the bridge are recognised by a
//   byte prefix, Twilio media by two bytes, payload sizes by message length;
//   only rare control messages (marks, clear, session.update, cancel,
//   truncate) are parsed; sockets are a bare RFC 6455 framer
//   (raw-websocket.ts), not `ws`, and each step's writes to a socket are corked
//   into one;
// - the peer runs no VAD and decodes no audio: each session follows a script
//   (caller speaks 1.5 s, the AI answers 4 s in real time, one 20 ms delta per
//   frame; one turn in `bargeInEvery` is interrupted 1.5 s into the answer by
//   `speech_started`, as the service's VAD would on caller speech).
// Reuses the call simulator's building blocks for signing, the webhook, the
// upgrade and Twilio's message shapes.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import {
  connectedMessage,
  loopbackStreamUrl,
  markEchoMessage,
  mediaMessage,
  newCallSid,
  newStreamSid,
  postVoiceWebhook,
  signStreamUrl,
  startMessage,
  stopMessage,
  TWILIO_WS_USER_AGENT,
  voiceWebhookParams,
} from '../../src/devtools/call-simulator/index.js';
import { BURST_DELTA_FRAMES, type LoadAudio } from './audio-frames.js';
import { acceptRaw, connectRaw, startsWith, unmask, type RawWebSocket } from './raw-websocket.js';
import { LatencyHistogram } from './stats.js';

const FRAME_MS = 20;
const BUCKETS = 10;
const STEP_MS = FRAME_MS / BUCKETS;
const RING = 1024; // frames of history per call and direction (20 s): enough to match any frame still in flight
const MULAW_FRAME_BYTES = 160;

// The peer's script, in 20 ms frames of each session's own timeline.
const CYCLE = 400; // one turn every 8 s
const SPEECH_STOP = 75; // caller speaks 1.5 s
const REPLY_START = 90; // 300 ms to the first audio
const REPLY_FRAMES = 200; // 4 s answers
const BARGE_AT = REPLY_START + 75; // barge-ins come 1.5 s into the answer
const BARGE_STOP = BARGE_AT + 75;

const APPEND_PREFIX = Buffer.from('{"type":"input_audio_buffer.append","audio":"');
const CH_M = 0x6d; // 'm'
const CH_E = 0x65; // 'e'
const CH_A = 0x61; // 'a'
const CH_C = 0x63; // 'c'
const CH_EQ = 0x3d; // '='

/** Stuck = sent more than this long ago and never seen on the other side. */
const STUCK_MS = 1000;

class LoadCall {
  readonly callSid = newCallSid();
  readonly streamSid = newStreamSid();
  readonly bucket: number;
  twilio: RawWebSocket | undefined;
  session: RawWebSocket | undefined;
  streaming = false;
  onAttach: (() => void) | undefined;

  // Twilio side
  seq = 1;
  chunk = 0;
  callerFrame: number;
  readonly inSentAt = new Float64Array(RING);
  inSent = 0;
  inRecv = 0;
  playEnd = 0;
  readonly marks: { name: string; due: number }[] = [];
  readonly mediaOverhead: number;
  readonly markNameStart: number;
  outBytes = 0;

  // AI side
  frame = 0;
  readonly offset: number;
  responding = false;
  responseId = '';
  itemId = '';
  replyFrame = 0;
  /** Frames of the current answer sent so far (0 once a barge-in ended it). */
  replySent = 0;
  replyStartedAt = 0;
  readonly outSentAt = new Float64Array(RING);
  outSent = 0;
  outMatched = 0;
  outBaseIdx = 0;
  outBaseBytes = 0;
  outDiscarded = 0;

  constructor(
    readonly index: number,
    callerFrames: number,
  ) {
    this.bucket = index % BUCKETS;
    // Spread turns and caller audio so calls do not act in lockstep.
    this.offset = (index * 137) % CYCLE;
    this.callerFrame = (index * 211) % callerFrames;
    this.mediaOverhead = `{"event":"media","streamSid":"${this.streamSid}","media":{"payload":""}}`.length;
    this.markNameStart = `{"event":"mark","streamSid":"${this.streamSid}","mark":{"name":"`.length;
  }
}

export interface DirectionStats {
  readonly frames: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Frames whose added latency exceeded one frame period (20 ms). */
  readonly late: number;
  /** Frames sent > 1 s ago that never came out the other side, new in this window. */
  readonly dropped: number;
}

export interface WindowStats {
  readonly seconds: number;
  readonly inbound: DirectionStats;
  readonly outbound: DirectionStats;
  /** Reply deltas the bridge dropped on purpose at a barge-in (audio of a cancelled answer): expected ≥ 0, not a loss. */
  readonly outboundDiscardedAtClear: number;
  readonly generator: { cpuPct: number; loopP99Ms: number; loopMaxMs: number; tickLateP99Ms: number; tickLateMaxMs: number };
  readonly turns: number;
  /** Appends of silence the bridge inserted on its own (media quiet > 200 ms by its clock): a sign of a stall on either side. */
  readonly silenceFills: number;
  readonly bargeIns: number;
  readonly clears: number;
  readonly marksEchoed: number;
  readonly controlMessages: number;
  readonly unexpected: readonly string[];
}

export interface GeneratorOptions {
  readonly publicUrl: string;
  readonly authToken: string;
  readonly accountSid: string;
  readonly apiKey: string;
  readonly audio: LoadAudio;
  /** One turn in this many is barged in. */
  readonly bargeInEvery: number;
  /**
   * How answers stream: `realtime`, one 20 ms delta per 20 ms (the bridge's pacer never holds audio, so the
   * outbound latency is processing alone); `burst`, 160 ms deltas at 8× real time, as the service streams them
   * (the bridge paces them out; outbound latency then counts from when each 20 ms was due to play).
   */
  readonly replyShape: 'realtime' | 'burst';
}

export class LoadGenerator {
  readonly #calls: LoadCall[] = [];
  readonly #buckets: LoadCall[][] = Array.from({ length: BUCKETS }, () => []);
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  #pending: LoadCall | undefined;
  #bridgeUrl = '';
  #nextIndex = 0;
  #epoch = 0;
  #step = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  // Window counters
  readonly #inLat = new LatencyHistogram();
  readonly #outLat = new LatencyHistogram();
  readonly #tickLate = new LatencyHistogram();
  readonly #loop = monitorEventLoopDelay({ resolution: 10 });
  #measuring = false;
  #turns = 0;
  #fills = 0;
  #bargeIns = 0;
  #clears = 0;
  #marksEchoed = 0;
  #control = 0;
  #unexpected: string[] = [];
  #windowStart = 0;
  #cpuStart = process.cpuUsage();
  #stuckInStart = 0;
  #stuckOutStart = 0;

  constructor(private readonly opts: GeneratorOptions) {
    this.#server = http.createServer((req, res) => this.#http(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith('/v1/realtime') || !/^Bearer ek_/.test(req.headers.authorization ?? '')) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n');
        return;
      }
      this.#attach(acceptRaw(req, socket, head));
    });
    this.#loop.enable();
  }

  /** Starts the realtime peer; resolves with its base URL (the bridge's OPENAI_BASE_URL). */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Where calls are placed (the bridge starts after the peer, since it needs the peer's URL). */
  setBridgeUrl(url: string): void {
    this.#bridgeUrl = url;
  }

  get size(): number {
    return this.#calls.length;
  }

  // --- the realtime peer ----------------------------------------------------

  #http(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/realtime/client_secrets' || req.headers.authorization !== `Bearer ${this.opts.apiKey}`) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"type":"invalid_request_error","code":"invalid_api_key","message":"no"}}');
        return;
      }
      const expiresAt = Math.floor(Date.now() / 1000) + 600;
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"value":"ek_load${Math.random().toString(36).slice(2)}","expires_at":${expiresAt},"session":{"type":"realtime"}}`);
    });
  }

  #attach(ws: RawWebSocket): void {
    const call = this.#pending;
    this.#pending = undefined;
    if (call === undefined) {
      this.#unexpected.push('an upstream session the generator did not expect (a reconnect?)');
      ws.close(1000);
      return;
    }
    call.session = ws;
    ws.onMessage = (payload, mask) => this.#onPeerMessage(call, payload, mask);
    ws.onClose = () => {
      if (this.#running && call.streaming) this.#unexpected.push(`upstream session of call ${call.index} closed`);
      call.session = undefined;
    };
    ws.send('{"type":"session.created","event_id":"evt_0","session":{"type":"realtime","object":"realtime.session"}}');
    call.onAttach?.();
  }

  #onPeerMessage(call: LoadCall, payload: Buffer, mask: number): void {
    const now = performance.now();
    // The bridge's frames are masked (client → server): only the prefix is unmasked to recognise an append.
    if (startsWith(payload, mask, APPEND_PREFIX)) {
      if (this.#isFilledSilence(payload, mask)) {
        // Silence the bridge inserted because media looked quiet (see SILENCE_FILL_AFTER_MS): not a caller frame.
        if (this.#measuring) this.#fills++;
        return;
      }
      const k = call.inRecv++;
      if (this.#measuring && k < call.inSent && call.inSent - k < RING) this.#inLat.record(now - call.inSentAt[k % RING]!);
      return;
    }
    this.#control++;
    let type = '';
    const data = unmask(payload, mask);
    try {
      type = String((JSON.parse(data.toString('utf8')) as { type?: unknown }).type);
    } catch {
      this.#unexpected.push(`bad JSON from the bridge upstream: ${data.toString('utf8', 0, 80)}`);
      return;
    }
    const ws = call.session;
    if (ws === undefined) return;
    switch (type) {
      case 'session.update':
        ws.send('{"type":"session.updated","event_id":"evt_1","session":{"type":"realtime"}}');
        return;
      case 'response.cancel':
        // The scripted barge-in already ended the response, as the service does with interrupt_response.
        if (call.responding) this.#endResponse(call, 'cancelled');
        else ws.send('{"type":"error","event_id":"evt_2","error":{"type":"invalid_request_error","code":"response_cancel_not_active","message":"no active response"}}');
        return;
      case 'conversation.item.truncate':
        ws.send(`{"type":"conversation.item.truncated","event_id":"evt_3","item_id":"${call.itemId}","content_index":0,"audio_end_ms":0}`);
        return;
      case 'input_audio_buffer.commit':
      case 'input_audio_buffer.clear':
      case 'conversation.item.create':
      case 'response.create':
        return;
      default:
        if (this.#unexpected.length < 50) this.#unexpected.push(`client event ${type}`);
    }
  }

  /**
   * An append whose audio is not one caller frame's size, or whose last 48
   * bytes are digital silence (caller audio never has a zero sample), is
   * silence the bridge made up. Unmasks only those few bytes.
   */
  #isFilledSilence(payload: Buffer, mask: number): boolean {
    const start = APPEND_PREFIX.length;
    const end = payload.length - 2; // before the closing "}
    if (end - start !== this.opts.audio.appendAudioChars) return true;
    const want = this.opts.audio.silenceChar;
    for (let i = end - 68; i < end - 4; i++) {
      const k = (mask >>> (24 - 8 * (i & 3))) & 0xff;
      if ((payload[i]! ^ k) !== want) return false;
    }
    return true;
  }

  /** One 20 ms step of the AI side of a call. */
  #peerStep(call: LoadCall, now: number): void {
    const ws = call.session;
    if (ws === undefined) return;
    const t = call.frame + call.offset;
    call.frame++;
    const p = t % CYCLE;
    const turn = Math.floor(t / CYCLE);
    const barge = (turn + call.index) % this.opts.bargeInEvery === this.opts.bargeInEvery - 1;
    const id = `${call.index}_${turn}`;
    if (p === 0) {
      ws.send(`{"type":"input_audio_buffer.speech_started","event_id":"evt_s","audio_start_ms":${call.frame * FRAME_MS},"item_id":"item_u${id}"}`);
    } else if (p === SPEECH_STOP) {
      ws.send(`{"type":"input_audio_buffer.speech_stopped","event_id":"evt_t","audio_end_ms":${call.frame * FRAME_MS},"item_id":"item_u${id}"}`);
      ws.send(`{"type":"input_audio_buffer.committed","event_id":"evt_c","previous_item_id":null,"item_id":"item_u${id}"}`);
      call.responseId = `resp_${id}`;
      call.itemId = `item_a${id}`;
      call.responding = true;
      call.replyFrame = call.index * 53 + turn * 17;
      call.replySent = 0;
      ws.send(`{"type":"response.created","event_id":"evt_r","response":{"object":"realtime.response","id":"${call.responseId}","status":"in_progress","output":[]}}`);
      if (this.#measuring) this.#turns++;
    } else if (barge && p === BARGE_AT && call.replySent > 0) {
      // The caller talks over the answer while it plays; a burst answer was fully streamed by now, as the service's
      // usually is, so only a realtime answer is still running to be cancelled.
      ws.send(`{"type":"input_audio_buffer.speech_started","event_id":"evt_s","audio_start_ms":${call.frame * FRAME_MS},"item_id":"item_b${id}"}`);
      if (call.responding) this.#endResponse(call, 'cancelled');
      call.replySent = 0;
      if (this.#measuring) this.#bargeIns++;
    } else if (call.responding && p >= REPLY_START && call.replySent < REPLY_FRAMES) {
      const burst = this.opts.replyShape === 'burst';
      const deltas = burst ? this.opts.audio.replyBurst : this.opts.audio.reply;
      const frames = burst ? BURST_DELTA_FRAMES : 1;
      const delta = deltas[call.replyFrame++ % deltas.length]!;
      const sentAt = performance.now();
      if (call.replySent === 0) call.replyStartedAt = sentAt;
      // Each 20 ms of the answer is due when it would play at real time from the answer's first delta: for a
      // realtime answer that is when it is sent, for a burst it is later (the bridge may hold it until then).
      for (let f = 0; f < frames; f++) {
        call.outSentAt[call.outSent % RING] = burst ? call.replyStartedAt + (call.replySent + f) * FRAME_MS : sentAt;
        call.outSent++;
      }
      ws.send(
        `{"type":"response.output_audio.delta","event_id":"evt_d","response_id":"${call.responseId}","item_id":"${call.itemId}","output_index":0,"content_index":0,"delta":"${delta}"}`,
      );
      if ((call.replySent + frames - 1) % 10 < frames) {
        ws.send(`{"type":"response.output_audio_transcript.delta","event_id":"evt_x","response_id":"${call.responseId}","item_id":"${call.itemId}","output_index":0,"content_index":0,"delta":"words "}`);
      }
      call.replySent += frames;
    } else if (call.responding && call.replySent >= REPLY_FRAMES) {
      ws.send(`{"type":"response.output_audio.done","event_id":"evt_o","response_id":"${call.responseId}","item_id":"${call.itemId}","output_index":0,"content_index":0}`);
      ws.send(`{"type":"response.output_audio_transcript.done","event_id":"evt_y","response_id":"${call.responseId}","item_id":"${call.itemId}","output_index":0,"content_index":0,"transcript":"words"}`);
      this.#endResponse(call, 'completed');
    } else if (barge && p === BARGE_STOP) {
      // server_vad commits every utterance it detected, the interrupting one too.
      ws.send(`{"type":"input_audio_buffer.speech_stopped","event_id":"evt_t","audio_end_ms":${call.frame * FRAME_MS},"item_id":"item_b${id}"}`);
      ws.send(`{"type":"input_audio_buffer.committed","event_id":"evt_c","previous_item_id":null,"item_id":"item_b${id}"}`);
    }
    void now;
  }

  #endResponse(call: LoadCall, status: 'completed' | 'cancelled'): void {
    call.responding = false;
    const reason = status === 'cancelled' ? '{"type":"cancelled","reason":"turn_detected"}' : 'null';
    call.session?.send(
      `{"type":"response.done","event_id":"evt_e","response":{"object":"realtime.response","id":"${call.responseId}","status":"${status}","status_details":${reason},"output":[],"usage":{"total_tokens":120,"input_tokens":80,"output_tokens":40}}}`,
    );
  }

  // --- Twilio's side ----------------------------------------------------------

  #onTwilioMessage(call: LoadCall, data: Buffer): void {
    const now = performance.now();
    // Every bridge → Twilio message starts with {"event":"…: byte 10 and 11 tell media, mark and clear apart.
    const c10 = data[10];
    const c11 = data[11];
    if (c10 === CH_M && c11 === CH_E) {
      const chars = data.length - call.mediaOverhead;
      const pad = data[data.length - 4] === CH_EQ ? (data[data.length - 5] === CH_EQ ? 2 : 1) : 0;
      const bytes = (chars / 4) * 3 - pad;
      // Playback: audio plays at 8 bytes/ms from when it arrives or the queue ends.
      call.playEnd = Math.max(now, call.playEnd) + bytes / 8;
      call.outBytes += bytes;
      while (call.outMatched < call.outSent && call.outBytes - call.outBaseBytes >= (call.outMatched - call.outBaseIdx + 1) * MULAW_FRAME_BYTES) {
        const k = call.outMatched++;
        if (this.#measuring && call.outSent - k < RING) this.#outLat.record(now - call.outSentAt[k % RING]!);
      }
      this.#echoDueMarks(call, now);
      return;
    }
    this.#control++;
    if (c10 === CH_M && c11 === CH_A) {
      const name = data.toString('latin1', call.markNameStart, data.length - 3);
      call.marks.push({ name, due: Math.max(now, call.playEnd) });
      this.#echoDueMarks(call, now);
      return;
    }
    if (c10 === CH_C) {
      // clear: queued audio is dropped and every pending mark comes back at once.
      if (this.#measuring) this.#clears++;
      call.playEnd = now;
      for (const m of call.marks) m.due = now;
      this.#echoDueMarks(call, now);
      call.outDiscarded += call.outSent - call.outMatched;
      call.outMatched = call.outSent;
      call.outBaseIdx = call.outSent;
      call.outBaseBytes = call.outBytes;
      return;
    }
    if (this.#unexpected.length < 50) this.#unexpected.push(`Twilio-side message: ${data.toString('utf8', 0, 80)}`);
  }

  #echoDueMarks(call: LoadCall, now: number): void {
    const marks = call.marks;
    while (marks.length > 0 && marks[0]!.due <= now) {
      const m = marks.shift()!;
      call.twilio?.send(markEchoMessage({ sequenceNumber: ++call.seq, streamSid: call.streamSid, name: m.name }));
      if (this.#measuring) this.#marksEchoed++;
    }
  }

  /** One 20 ms step of Twilio's side of a call: due mark echoes, one caller frame. */
  #twilioStep(call: LoadCall, now: number): void {
    const ws = call.twilio;
    if (ws === undefined) return;
    if (call.marks.length > 0) this.#echoDueMarks(call, now);
    const caller = this.opts.audio.caller;
    const payload = caller[call.callerFrame++ % caller.length]!;
    const chunk = ++call.chunk;
    const text = mediaMessage({ sequenceNumber: ++call.seq, streamSid: call.streamSid, chunk, timestamp: (chunk - 1) * FRAME_MS, payload });
    call.inSentAt[call.inSent % RING] = performance.now();
    call.inSent++;
    ws.send(text);
  }

  // --- the shared clock -------------------------------------------------------

  #tick = (): void => {
    this.#timer = undefined;
    if (!this.#running) return;
    let now = performance.now();
    for (let due = this.#epoch + this.#step * STEP_MS; due <= now; due = this.#epoch + this.#step * STEP_MS) {
      if (this.#measuring) this.#tickLate.record(now - due);
      const calls = this.#buckets[this.#step % BUCKETS]!;
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i]!;
        const a = call.session;
        const b = call.twilio;
        a?.cork();
        b?.cork();
        this.#peerStep(call, now);
        this.#twilioStep(call, now);
        a?.uncork();
        b?.uncork();
      }
      this.#step++;
      now = performance.now();
    }
    const wait = this.#epoch + this.#step * STEP_MS - performance.now();
    this.#timer = setTimeout(this.#tick, Math.max(0, wait));
  };

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#epoch = performance.now();
    this.#step = 0;
    this.#tick();
  }

  // --- calls ------------------------------------------------------------------

  /** Places one call and waits until both of its sockets are up; calls are placed one at a time so the AI session maps to its call by order. */
  async addCall(): Promise<void> {
    const o = this.opts;
    const call = new LoadCall(this.#nextIndex++, o.audio.caller.length);
    const hook = await postVoiceWebhook({
      bridgeUrl: this.#bridgeUrl,
      publicUrl: o.publicUrl,
      authToken: o.authToken,
      params: voiceWebhookParams({ callSid: call.callSid, accountSid: o.accountSid }),
    });
    if (hook.stream === undefined) throw new Error(`call ${call.index}: webhook answered ${hook.status} without a stream`);
    const attached = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`call ${call.index}: no upstream session within 10 s`)), 10_000);
      call.onAttach = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#pending = call;
    // Twilio's upgrade: the ticket URL dialled on loopback, signed over the wss URL as written in the TwiML.
    const ws = await connectRaw(loopbackStreamUrl(this.#bridgeUrl, hook.stream.url), {
      'user-agent': TWILIO_WS_USER_AGENT,
      'x-twilio-signature': signStreamUrl(o.authToken, hook.stream.url),
    });
    ws.onMessage = (data) => this.#onTwilioMessage(call, data);
    ws.onClose = () => {
      if (this.#running && call.streaming) this.#unexpected.push(`bridge closed call ${call.index}`);
      call.twilio = undefined;
    };
    call.twilio = ws;
    ws.send(connectedMessage());
    ws.send(startMessage({ sequenceNumber: call.seq, streamSid: call.streamSid, accountSid: o.accountSid, callSid: call.callSid }));
    await attached;
    call.streaming = true;
    this.#calls.push(call);
    this.#buckets[call.bucket]!.push(call);
  }

  // --- measurement windows ----------------------------------------------------

  #stuck(now: number): { inbound: number; outbound: number } {
    let inbound = 0;
    let outbound = 0;
    const cutoff = now - STUCK_MS;
    for (const c of this.#calls) {
      for (let k = c.inRecv; k < c.inSent; k++) if (c.inSent - k >= RING || c.inSentAt[k % RING]! < cutoff) inbound++;
      for (let k = c.outMatched; k < c.outSent; k++) if (c.outSent - k >= RING || c.outSentAt[k % RING]! < cutoff) outbound++;
    }
    return { inbound, outbound };
  }

  beginWindow(): void {
    this.#inLat.reset();
    this.#outLat.reset();
    this.#tickLate.reset();
    this.#loop.reset();
    this.#turns = 0;
    this.#fills = 0;
    this.#bargeIns = 0;
    this.#clears = 0;
    this.#marksEchoed = 0;
    this.#control = 0;
    this.#unexpected = [];
    const stuck = this.#stuck(performance.now());
    this.#stuckInStart = stuck.inbound;
    this.#stuckOutStart = stuck.outbound;
    this.#discardedStart = this.#calls.reduce((a, c) => a + c.outDiscarded, 0);
    this.#windowStart = performance.now();
    this.#cpuStart = process.cpuUsage();
    this.#measuring = true;
  }

  #discardedStart = 0;

  endWindow(): WindowStats {
    this.#measuring = false;
    const now = performance.now();
    const seconds = (now - this.#windowStart) / 1000;
    const cpu = process.cpuUsage(this.#cpuStart);
    const stuck = this.#stuck(now);
    const dir = (h: LatencyHistogram, dropped: number): DirectionStats => ({
      frames: h.count,
      p50Ms: h.quantile(0.5),
      p99Ms: h.quantile(0.99),
      maxMs: h.max,
      late: h.above(FRAME_MS),
      dropped: Math.max(0, dropped),
    });
    return {
      seconds,
      inbound: dir(this.#inLat, stuck.inbound - this.#stuckInStart),
      outbound: dir(this.#outLat, stuck.outbound - this.#stuckOutStart),
      outboundDiscardedAtClear: this.#calls.reduce((a, c) => a + c.outDiscarded, 0) - this.#discardedStart,
      generator: {
        cpuPct: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
        // The histogram's samples include its 10 ms sampling interval; the delay is the excess.
        loopP99Ms: this.#loop.count > 0 ? Math.max(0, this.#loop.percentile(99) / 1e6 - 10) : 0,
        loopMaxMs: this.#loop.count > 0 ? Math.max(0, this.#loop.max / 1e6 - 10) : 0,
        tickLateP99Ms: this.#tickLate.quantile(0.99),
        tickLateMaxMs: this.#tickLate.max,
      },
      turns: this.#turns,
      silenceFills: this.#fills,
      bargeIns: this.#bargeIns,
      clears: this.#clears,
      marksEchoed: this.#marksEchoed,
      controlMessages: this.#control,
      unexpected: [...new Set(this.#unexpected)].slice(0, 10),
    };
  }

  /** Hangs every call up as Twilio does (stop, then close); the clock keeps running for the next calls. */
  async hangupAll(): Promise<void> {
    const calls = this.#calls.splice(0);
    for (const b of this.#buckets) b.length = 0;
    for (const call of calls) {
      call.streaming = false;
      const ws = call.twilio;
      if (ws !== undefined && ws.isOpen) {
        ws.send(stopMessage({ sequenceNumber: ++call.seq, streamSid: call.streamSid, accountSid: this.opts.accountSid, callSid: call.callSid }));
        ws.close(1000);
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const call of calls) {
      call.twilio?.terminate();
      call.session?.terminate();
    }
  }

  /** Hangs every call up and shuts the peer down. */
  async close(): Promise<void> {
    await this.hangupAll();
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#loop.disable();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
