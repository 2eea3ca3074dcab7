// Owns fault injection: what failure to inject next and when. It keeps the
// counters for refused upgrades and failed token requests (the server asks
// it before answering) and the faults armed for a protocol moment (the peer
// reports moments as they happen). It never parses protocol; the actual
// socket surgery is done through the SocketControl the server provides.

import type { PeerSession } from './recording.js';

/**
 * The moments a fault can wait for. 'speech': right after speech_started is
 * sent. 'response': right after an output_audio.delta is sent (optionally
 * once the response has sent `afterAudioMs` of audio). 'toolCall': right
 * after function_call_arguments.done is sent (before response.done).
 */
export type FaultMoment = 'speech' | 'response' | 'toolCall';

export type FaultAction =
  /** Cut the TCP socket, no close frame; the client sees 1006. */
  | { readonly kind: 'drop' }
  /** A close frame with this code and reason. 1006 cannot be sent on the wire, so it means 'drop'. */
  | { readonly kind: 'close'; readonly code: number; readonly reason: string }
  /** error session_expired, then close 1001, as at the 60-minute cap. */
  | { readonly kind: 'expire' }
  /**
   * The socket stays up (pongs, VAD, commits) but the model never answers again: a running response stops
   * without response.done and no new one starts. `transcribe`: input transcripts still arrive.
   */
  | { readonly kind: 'wedge'; readonly transcribe: boolean };

/** How to refuse an upgrade: an HTTP status (401, 403, 503, …), a TCP reset, or never answering. */
export type UpgradeRefusal = { readonly status: number } | 'reset' | 'hang';

/** How to fail a token request: an HTTP status (500, 503, …), never answering, or a TCP reset. */
export type TokenFailure = { readonly status: number } | 'stall' | 'reset';

/** What the server lets the fault controls do to one live socket. */
export interface SocketControl {
  readonly session: PeerSession;
  readonly open: boolean;
  apply(action: FaultAction): void;
  /** Stops reading from the TCP socket so the client's send buffer fills. */
  pauseReading(): void;
  resumeReading(): void;
}

interface Armed {
  readonly when: FaultMoment;
  readonly action: FaultAction;
  /** Restrict to one session (its index); any session when undefined. */
  readonly sessionIndex: number | undefined;
  readonly afterAudioMs: number;
  readonly resolve: (s: PeerSession) => void;
  readonly reject: (e: Error) => void;
}

export interface ArmOptions {
  readonly when: FaultMoment;
  /** Only this session (a PeerSession or its index). */
  readonly session?: PeerSession | number;
  /** 'response' only: wait until the response has sent at least this much audio (ms). Default 0: the first delta. */
  readonly afterAudioMs?: number;
}

export class PeerFaults {
  private upgradeRefusals: UpgradeRefusal[] = [];
  private tokenFailures: TokenFailure[] = [];
  private armed: Armed[] = [];

  /** @internal The server's view of its live sockets, newest last. */
  constructor(private readonly sockets: () => readonly SocketControl[]) {}

  /** Refuses the next `count` WebSocket upgrades (default: HTTP 503). */
  refuseUpgrades(count: number, how: UpgradeRefusal = { status: 503 }): void {
    for (let i = 0; i < count; i++) this.upgradeRefusals.push(how);
  }

  /** Fails the next `count` token requests (default: HTTP 500). */
  failTokenRequests(count: number, how: TokenFailure = { status: 500 }): void {
    for (let i = 0; i < count; i++) this.tokenFailures.push(how);
  }

  /** Cuts the socket abruptly at the next `when` moment. Resolves with the session it hit. */
  dropNext(opts: ArmOptions): Promise<PeerSession> {
    return this.arm(opts, { kind: 'drop' });
  }

  /** Closes with code+reason at the next `when` moment. */
  closeNext(opts: ArmOptions & { readonly code: number; readonly reason: string }): Promise<PeerSession> {
    return this.arm(opts, { kind: 'close', code: opts.code, reason: opts.reason });
  }

  /** Sends session_expired and closes 1001 at the next `when` moment. */
  expireNext(opts: ArmOptions): Promise<PeerSession> {
    return this.arm(opts, { kind: 'expire' });
  }

  /** Wedges the session at the next `when` moment: it stays connected but never answers again. */
  wedgeNext(opts: ArmOptions & { readonly transcribe?: boolean }): Promise<PeerSession> {
    return this.arm(opts, { kind: 'wedge', transcribe: opts.transcribe ?? false });
  }

  /** Cuts a session's socket now (default: the newest open one). */
  drop(session?: PeerSession | number): PeerSession {
    return this.now(session, { kind: 'drop' });
  }

  /** Closes a session's socket now with a code and reason (1006 = drop). */
  close(code: number, reason: string, session?: PeerSession | number): PeerSession {
    return this.now(session, { kind: 'close', code, reason });
  }

  /** session_expired + close 1001 now. */
  expire(session?: PeerSession | number): PeerSession {
    return this.now(session, { kind: 'expire' });
  }

  /** Stops reading a session's socket until the returned function is called (or the peer closes). */
  stallReading(session?: PeerSession | number): () => void {
    const target = this.target(session);
    target.pauseReading();
    return () => target.resumeReading();
  }

  /** Forgets every pending fault; the promises of armed ones reject. */
  clear(): void {
    this.upgradeRefusals = [];
    this.tokenFailures = [];
    const armed = this.armed;
    this.armed = [];
    for (const a of armed) a.reject(new Error('realtime peer: armed fault cleared before it fired'));
  }

  /** @internal */
  takeUpgradeRefusal(): UpgradeRefusal | undefined {
    return this.upgradeRefusals.shift();
  }

  /** @internal */
  takeTokenFailure(): TokenFailure | undefined {
    return this.tokenFailures.shift();
  }

  /** @internal Called by the peer at each moment; applies the first matching armed fault. `audioMs`: audio sent so far by the response. */
  moment(when: FaultMoment, control: SocketControl, audioMs = 0): void {
    const at = this.armed.findIndex(
      (a) => a.when === when && (a.sessionIndex === undefined || a.sessionIndex === control.session.index) && audioMs >= a.afterAudioMs,
    );
    if (at < 0 || !control.open) return;
    const [armed] = this.armed.splice(at, 1);
    control.apply(armed!.action);
    armed!.resolve(control.session);
  }

  private arm(opts: ArmOptions, action: FaultAction): Promise<PeerSession> {
    const sessionIndex = typeof opts.session === 'number' ? opts.session : opts.session?.index;
    const afterAudioMs = opts.afterAudioMs ?? 0;
    const armed = new Promise<PeerSession>((resolve, reject) => this.armed.push({ when: opts.when, action, sessionIndex, afterAudioMs, resolve, reject }));
    // A test that arms a fault it ends up not needing must not get an unhandled rejection at clear()/close().
    armed.catch(() => {});
    return armed;
  }

  private now(session: PeerSession | number | undefined, action: FaultAction): PeerSession {
    const target = this.target(session);
    target.apply(action);
    return target.session;
  }

  private target(session: PeerSession | number | undefined): SocketControl {
    const all = this.sockets();
    const index = typeof session === 'number' ? session : session?.index;
    const found = index === undefined ? [...all].reverse().find((s) => s.open) : all.find((s) => s.session.index === index);
    if (found === undefined) throw new Error(index === undefined ? 'no open session to inject a fault into' : `no session with index ${index}`);
    return found;
  }
}
