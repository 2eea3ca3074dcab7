// Owns the peer's public face: options and their defaults, assembly of the
// server, token store, fault controls and reply sources, the typed event
// API tests await, and a clean shutdown. It adds no protocol behaviour of
// its own.

import { EventEmitter } from 'node:events';
import { PeerFaults } from './faults.js';
import type { PeerEventMap, PeerEventName, PeerSession, SessionRecord, TokenRequestRecord, UpgradeRecord } from './recording.js';
import { DEFAULT_REPLY_TRANSCRIPT, DEFAULT_REPLY_WAV, DEFAULT_USER_TRANSCRIPT, ReplyAudioLibrary, type PeerReply, type ReplyScript, type TranscriptScript } from './reply.js';
import { DEFAULT_PACING, type Pacing } from './response-stream.js';
import { PeerServer, REALTIME_PATH } from './server.js';
import type { ReplySource, VadTuning } from './session.js';
import { defaultSessionConfig, type SessionConfig } from './session-config.js';
import { DEFAULT_TOKEN_SECONDS, TokenStore, type MintedToken } from './token-store.js';
import { DEFAULT_VAD_PARAMS } from './vad.js';

export interface RealtimePeerOptions {
  /** The long-lived key the peer accepts (token endpoint, and directly on the socket as the real service does). */
  readonly apiKey: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (default) picks an ephemeral port. */
  readonly port?: number;
  /** Model reported when neither the URL nor the token names one. Default 'gpt-realtime'. */
  readonly model?: string;
  /** Default reply audio: mono PCM16 WAV, 24 kHz (8 kHz is upsampled). Default fixtures/assistant-reply.wav. */
  readonly replyWav?: string;
  /** Transcript streamed with the default reply. */
  readonly replyTranscript?: string;
  /** Chooses each response's reply (after queued ones); undefined → the default audio reply. */
  readonly reply?: ReplyScript;
  /** Transcript of every user turn when transcription is on (after queued ones and `userTranscripts`). */
  readonly userTranscript?: string;
  readonly userTranscripts?: TranscriptScript;
  /** How fast replies are streamed. Default: 150 ms deltas, 3 per burst, bursts 50 ms apart (9x real time), 120 ms to the first delta. */
  readonly pacing?: Partial<Pacing>;
  /** VAD knobs outside the protocol: minSpeechMs (default 60), silenceDurationMsOverride. */
  readonly vad?: Partial<VadTuning>;
  /** Session age at which error session_expired + close 1001 happen. Default 60 minutes. */
  readonly sessionMaxAgeMs?: number;
  /** Keep audio payloads in the records (default true). Turn off for long or many calls. */
  readonly recordAudio?: boolean;
  /** Keep every event in the records (default true). Off for load runs; listeners still get every event. */
  readonly recordEvents?: boolean;
  /** Largest client frame accepted. Default 16 MiB. */
  readonly maxPayloadBytes?: number;
  /** Wall clock in ms for token expiry and expires_at; tests pass a fake one to age tokens. */
  readonly now?: () => number;
}

type Listener<K extends PeerEventName> = (...args: PeerEventMap[K]) => void;

export class RealtimePeer {
  /** http://host:port — the bridge's OPENAI_BASE_URL. */
  readonly baseUrl: string;
  /** ws://host:port/v1/realtime (without ?model=). */
  readonly realtimeUrl: string;
  readonly faults: PeerFaults;
  private readonly emitter = new EventEmitter();
  private readonly waiters = new Set<{ reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private closed: Promise<void> | null = null;

  /** @internal use startRealtimePeer */
  constructor(
    private readonly server: PeerServer,
    private readonly state: PeerState,
    host: string,
    port: number,
  ) {
    const h = host.includes(':') ? `[${host}]` : host;
    this.baseUrl = `http://${h}:${port}`;
    this.realtimeUrl = `ws://${h}:${port}${REALTIME_PATH}`;
    this.faults = state.faults;
    // Tests attach many listeners (one per waitFor); that is not a leak here.
    this.emitter.setMaxListeners(0);
  }

  /** Every accepted socket, in order, including ones closed right after the upgrade. */
  get sessions(): readonly PeerSession[] {
    return this.state.sessions;
  }

  /** Every request to the token endpoint, answered or not. */
  get tokenRequests(): readonly TokenRequestRecord[] {
    return this.state.tokenRequests;
  }

  /** Every WebSocket upgrade attempt and its outcome. */
  get upgrades(): readonly UpgradeRecord[] {
    return this.state.upgrades;
  }

  /** The next response (any session) uses this reply; queued replies are used in order. */
  queueReply(reply: PeerReply): void {
    this.state.replyQueue.push(reply);
  }

  /** The next committed user turn (any session) gets this transcript. */
  queueTranscript(text: string): void {
    this.state.transcriptQueue.push(text);
  }

  /** Mints an ek_ directly, as if through the token endpoint (not recorded as a request). */
  issueToken(seconds = DEFAULT_TOKEN_SECONDS, session?: SessionConfig): MintedToken<SessionConfig> {
    return this.state.tokens.mint(seconds, session ?? defaultSessionConfig(this.state.model));
  }

  on<K extends PeerEventName>(event: K, listener: Listener<K>): this {
    this.emitter.on(event, listener as (...a: unknown[]) => void);
    return this;
  }

  off<K extends PeerEventName>(event: K, listener: Listener<K>): this {
    this.emitter.off(event, listener as (...a: unknown[]) => void);
    return this;
  }

  /**
   * Resolves with the arguments of the next `event` that satisfies `predicate`
   * (only events after the call). Rejects after `timeoutMs` (default 5000) or
   * when the peer closes.
   */
  waitFor<K extends PeerEventName>(event: K, predicate: (...args: PeerEventMap[K]) => boolean = () => true, timeoutMs = 5000): Promise<PeerEventMap[K]> {
    return new Promise((resolve, reject) => {
      const listener = (...args: PeerEventMap[K]): void => {
        if (!predicate(...args)) return;
        done();
        resolve(args);
      };
      const waiter = {
        reject: (e: Error) => {
          done();
          reject(e);
        },
        timer: setTimeout(() => waiter.reject(new Error(`realtime peer: no '${event}' within ${timeoutMs} ms`)), timeoutMs),
      };
      const done = (): void => {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        this.off(event, listener);
      };
      this.waiters.add(waiter);
      this.on(event, listener);
    });
  }

  /** Closes every socket and the server; pending waitFor calls reject. Idempotent. */
  close(): Promise<void> {
    if (this.closed === null) {
      for (const w of [...this.waiters]) w.reject(new Error('realtime peer closed'));
      this.faults.clear();
      this.closed = this.server.close();
    }
    return this.closed;
  }

  /** @internal */
  emit<K extends PeerEventName>(event: K, ...args: PeerEventMap[K]): void {
    this.emitter.emit(event, ...args);
  }
}

interface PeerState {
  readonly model: string;
  readonly tokens: TokenStore<SessionConfig>;
  readonly faults: PeerFaults;
  readonly sessions: SessionRecord[];
  readonly tokenRequests: TokenRequestRecord[];
  readonly upgrades: UpgradeRecord[];
  readonly replyQueue: PeerReply[];
  readonly transcriptQueue: string[];
}

export async function startRealtimePeer(opts: RealtimePeerOptions): Promise<RealtimePeer> {
  if (opts.apiKey.length === 0) throw new Error('realtime peer: apiKey must not be empty');
  const host = opts.host ?? '127.0.0.1';
  const model = opts.model ?? 'gpt-realtime';
  const now = opts.now ?? Date.now;
  const audio = new ReplyAudioLibrary(opts.replyWav ?? DEFAULT_REPLY_WAV);
  audio.preload();
  let server: PeerServer | null = null;
  const state: PeerState = {
    model,
    tokens: new TokenStore<SessionConfig>(opts.apiKey, now),
    faults: new PeerFaults(() => server?.sockets ?? []),
    sessions: [],
    tokenRequests: [],
    upgrades: [],
    replyQueue: [],
    transcriptQueue: [],
  };
  const replies: ReplySource = {
    audio,
    takeQueuedReply: () => state.replyQueue.shift(),
    takeQueuedTranscript: () => state.transcriptQueue.shift(),
    ...(opts.reply === undefined ? {} : { script: opts.reply }),
    ...(opts.userTranscripts === undefined ? {} : { transcriptScript: opts.userTranscripts }),
    defaultUserTranscript: opts.userTranscript ?? DEFAULT_USER_TRANSCRIPT,
    defaultReplyTranscript: opts.replyTranscript ?? DEFAULT_REPLY_TRANSCRIPT,
  };
  // The peer object exists before the server so the server can emit through it.
  let peer: RealtimePeer | null = null;
  server = new PeerServer({
    tokens: state.tokens,
    faults: state.faults,
    emit: (name, ...args) => peer?.emit(name, ...args),
    tokenRequests: state.tokenRequests,
    upgrades: state.upgrades,
    sessions: state.sessions,
    defaultModel: model,
    now,
    maxPayloadBytes: opts.maxPayloadBytes ?? 16 * 1024 * 1024,
    sessionDeps: {
      replies,
      pacing: { ...DEFAULT_PACING, ...opts.pacing },
      vad: { minSpeechMs: DEFAULT_VAD_PARAMS.minSpeechMs, ...opts.vad },
      recordAudio: opts.recordAudio ?? true,
      recordEvents: opts.recordEvents ?? true,
      maxAgeMs: opts.sessionMaxAgeMs ?? 60 * 60 * 1000,
    },
  });
  const port = await server.listen(host, opts.port ?? 0);
  peer = new RealtimePeer(server, state, host, port);
  return peer;
}
