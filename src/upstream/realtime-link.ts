// Owns a call's link to the realtime AI across sessions: the first connect,
// reconnects after drops (ReconnectPolicy), rollover to a fresh session before
// the session cap (make before break), and the verdict that a failure is
// fatal. The call learns of each new session through `onSessionReady`,
// where it replays the conversation onto that session before it becomes
// current, so no event of a half-prepared session ever reaches the call.
// Never logs credentials.

import { ClientSecretError } from './client-secret.js';
import type { AbortCause, ConnectObserver, UpstreamConnector } from './connect.js';
import { RealtimeConnectError, type RealtimeConnection } from './realtime-connection.js';
import { isFatalClose, isFatalErrorCode, isFatalUpgradeStatus, ReconnectPolicy } from './reconnect-policy.js';
import type { ServerEvent } from './server-events.js';

export type SessionKind = 'initial' | 'reconnect' | 'rollover';

export interface ConnectAttempt {
  readonly attempt: number;
  readonly kind: SessionKind;
  /** `abandoned`: the call ended while the attempt was under way. */
  readonly outcome: 'ok' | 'transient' | 'fatal' | 'abandoned';
  readonly reason?: string;
  readonly ms: number;
  /** What the failure looked like on the wire, when known. */
  readonly failure?: { readonly httpStatus?: number; readonly closeCode?: number; readonly closeReason?: string; readonly timeout?: boolean };
}

/** Follows one connect attempt from its start, for tracing. */
export interface AttemptObserver extends ConnectObserver {
  finished(attempt: ConnectAttempt): void;
}

export interface LinkHandlers {
  /** An event of the current session. */
  onEvent(event: ServerEvent): void;
  /** A malformed message from one of the call's sessions (the current one, or one still being set up). */
  onMalformed(detail: string): void;
  /**
   * A new session is open and configured. `send` writes to that session
   * only; it becomes current when this returns, unless this returns false
   * (a rollover that found the call mid-turn), when it is closed unused. A
   * rollover declined while the current session has announced
   * `session_expired` is offered again at once as the reconnect (after
   * `onOutage` for the expired one), and a reconnect is never declined.
   */
  onSessionReady(kind: SessionKind, send: (event: string) => void): boolean | void;
  /** The new session is now current (and any old one closed): buffered caller audio may flow. */
  onSessionActive(kind: SessionKind): void;
  /** The current session dropped; the link is reconnecting. */
  onOutage(reason: string): void;
  /** Retrying cannot help (bad key, no access, quota, rejected config). */
  onFatal(reason: string): void;
  onAttempt?(attempt: ConnectAttempt): void;
  /** A connect attempt starts; the observer hears its token mint and its end. */
  onAttemptStart?(attempt: number, kind: SessionKind): AttemptObserver | undefined;
}

export interface LinkOptions {
  readonly connect: UpstreamConnector;
  readonly now: () => number;
  readonly policy?: ReconnectPolicy;
  /** Age at which a rollover becomes due (55 min by default). */
  readonly rolloverAfterMs: number;
}

/** Events of a session read with its confirmation that are held for the call; more is a server misbehaving. */
const MAX_EARLY_EVENTS = 64;

/** A session that has stayed up this long counts as a success for the backoff schedule. */
export const STABLE_SESSION_MS = 5000;

export class RealtimeLink {
  #current: RealtimeConnection | undefined;
  #currentOpenedAt = 0;
  /** The current session, once it has announced session_expired: the server closes it next. */
  #expired: RealtimeConnection | undefined;
  #closed = false;
  #connecting = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #stableTimer: NodeJS.Timeout | undefined;
  #attempts = 0;
  /** Ends the connect under way, if any: aborts its steps and reports how it ended. */
  #abandonAttempt: ((cause: AbortCause) => void) | undefined;
  readonly #policy: ReconnectPolicy;

  constructor(
    private readonly options: LinkOptions,
    private readonly handlers: LinkHandlers,
  ) {
    this.#policy = options.policy ?? new ReconnectPolicy();
  }

  start(): void {
    this.#open('initial');
  }

  get isUp(): boolean {
    return this.#current?.isOpen ?? false;
  }

  /** Bytes waiting in the current socket: grows when the server stops reading. */
  get bufferedAmount(): number {
    return this.#current?.bufferedAmount ?? 0;
  }

  get sessionAgeMs(): number {
    return this.#current === undefined ? 0 : this.options.now() - this.#currentOpenedAt;
  }

  get rolloverDue(): boolean {
    return this.#current !== undefined && !this.#connecting && this.sessionAgeMs >= this.options.rolloverAfterMs;
  }

  send(event: string): boolean {
    return this.#current?.send(event) ?? false;
  }

  /** Opens a fresh session while the current one keeps serving; switches when it is ready. */
  rollover(): void {
    if (this.#closed || this.#connecting || this.#current === undefined) return;
    this.#open('rollover');
  }

  /**
   * Drops the current session and reconnects at once, e.g. when the server
   * has stopped reading (backpressure) or announced `session_expired`.
   */
  replace(reason: string): void {
    if (this.#closed || this.#current === undefined) return;
    this.#loseCurrent(reason, 'replaced');
    if (!this.#connecting) this.#scheduleRetry();
  }

  /**
   * Closes the link for good. A connect under way is aborted: `call_ended` reports it abandoned (nobody's fault);
   * `gave_up` (the call goes to the fallback because the AI failed it) reports it as a failed attempt.
   */
  close(cause: AbortCause = 'call_ended'): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#stableTimer);
    this.#current?.close(1000, 'call ended');
    this.#current = undefined;
    this.#expired = undefined;
    // A connect under way would otherwise still mint a token, upgrade and configure a session nobody uses, held
    // until its confirmation or its timeout.
    this.#abandonAttempt?.(cause);
  }

  #open(kind: SessionKind): void {
    if (this.#closed) return;
    this.#connecting = true;
    const attempt = ++this.#attempts;
    const startedAt = this.options.now();
    const observer = this.handlers.onAttemptStart?.(attempt, kind);
    const abort = new AbortController();
    // Reported once: after an abandonment the link is closed, and every later outcome of the attempt stops at that.
    const report = (a: ConnectAttempt) => {
      this.#abandonAttempt = undefined;
      observer?.finished(a);
      this.handlers.onAttempt?.(a);
    };
    this.#abandonAttempt = (cause) => {
      abort.abort(cause);
      const ms = this.options.now() - startedAt;
      report(cause === 'call_ended' ? { attempt, kind, outcome: 'abandoned', ms } : { attempt, kind, outcome: 'transient', reason: 'given up with the attempt under way: the call went to the fallback', ms });
    };
    let connection: RealtimeConnection | undefined;
    let ready = false;
    let earlyClose: { code: number; reason: string } | undefined;
    // Events the server sent right after confirming the session (read with the confirmation, before the session
    // is handed over): they are the call's, delivered once the session is current. Bounded: nothing else is
    // read meanwhile.
    let early: ServerEvent[] | undefined = [];
    let earlyOverflowed = false;
    const isCurrent = () => connection !== undefined && connection === this.#current;
    this.options
      .connect(
        {
        onEvent: (event) => {
          if (isCurrent()) this.#onEvent(event, connection!);
          else if (early !== undefined) {
            if (early.length < MAX_EARLY_EVENTS) early.push(event);
            else if (!earlyOverflowed) {
              earlyOverflowed = true;
              this.handlers.onMalformed(`more than ${MAX_EARLY_EVENTS} events before the session was ready; the rest dropped`);
            }
          }
        },
        onMalformed: (detail) => {
          // Counted from every session of the call, the one still setting up included: all of it is the AI server's.
          if (!this.#closed) this.handlers.onMalformed(detail);
        },
        onClose: (code, reason) => {
          if (!ready) earlyClose = { code, reason };
          else if (isCurrent()) this.#onDrop(code, reason);
        },
        },
        observer,
        abort.signal,
      )
      .then(
        (opened) => {
          connection = opened;
          const held = early ?? [];
          early = undefined;
          if (this.#closed) return opened.close(1000, 'call ended');
          this.#connecting = false;
          if (earlyClose !== undefined || !opened.isOpen) {
            // The server accepted the upgrade and closed at once (e.g. 3000 invalid_api_key).
            const { code, reason } = earlyClose ?? { code: 1006, reason: '' };
            return this.#onAttemptFailed(kind, attempt, startedAt, code, reason, report);
          }
          ready = true;
          report({ attempt, kind, outcome: 'ok', ms: this.options.now() - startedAt });
          // A rollover that finds the current session closing (session_expired, then its close frame, before
          // the socket's close event) has lost it already: report the loss now, as the close event would.
          if (kind === 'rollover' && this.#current !== undefined && !this.#current.isOpen) this.#loseCurrent('AI session closed during a rollover');
          // A rollover that finds the current session lost (or a replace() meanwhile) is the reconnect now:
          // the call must treat it as one (resend what was in flight).
          let becomes: SessionKind = kind === 'rollover' && this.#current === undefined ? 'reconnect' : kind;
          const send = (event: string) => void opened.send(event);
          if (this.handlers.onSessionReady(becomes, send) === false) {
            if (this.#current === undefined || this.#current !== this.#expired) {
              opened.close(1000, 'rollover postponed');
              return;
            }
            // The call put the switch off to a turn boundary, which an expired session will not live to see (the
            // server closes it next): it is lost now, and this session is the reconnect that gets what it owed.
            this.#loseCurrent('AI session expired mid-turn');
            becomes = 'reconnect';
            if (!this.#closed) this.handlers.onSessionReady(becomes, send);
            // The call's handlers may have ended it meanwhile (a bug there ends the call, never the process).
            if (this.#closed) return opened.close(1000, 'call ended');
          }
          // The schedule resets only once a session has stayed up: a server that accepts and drops at once
          // must meet a growing backoff, not a storm of token mints.
          clearTimeout(this.#stableTimer);
          this.#stableTimer = setTimeout(() => {
            if (connection === this.#current) this.#policy.reset();
          }, STABLE_SESSION_MS);
          const old = this.#current;
          this.#current = opened;
          this.#expired = undefined;
          this.#currentOpenedAt = this.options.now();
          // Make before break: the old session is closed only once the new one serves.
          old?.close(1000, 'rollover');
          this.handlers.onSessionActive(becomes);
          for (const event of held) if (isCurrent()) this.#onEvent(event, opened);
        },
        (err: unknown) => {
          early = undefined;
          this.#connecting = false;
          if (this.#closed) return;
          const f = err instanceof RealtimeConnectError ? err.failure : undefined;
          const fatal =
            (err instanceof ClientSecretError && err.kind === 'fatal') ||
            (f?.kind === 'http' && isFatalUpgradeStatus(f.status)) ||
            (f?.kind === 'closed' && isFatalClose(f.code, f.reason)) ||
            f?.kind === 'config_rejected';
          const reason = err instanceof Error ? err.message : 'unknown failure';
          const failure =
            f?.kind === 'http'
              ? { httpStatus: f.status }
              : f?.kind === 'closed'
                ? { closeCode: f.code, closeReason: f.reason }
                : f !== undefined
                  ? { timeout: f.kind === 'timeout' }
                  : err instanceof ClientSecretError && err.status !== undefined
                    ? { httpStatus: err.status }
                    : {};
          report({ attempt, kind, outcome: fatal ? 'fatal' : 'transient', reason, ms: this.options.now() - startedAt, failure });
          if (fatal) return this.#fatal(reason);
          // A failed rollover leaves the current session serving; it is tried again at a later turn boundary.
          if (kind === 'rollover' && this.#current !== undefined) return;
          this.#scheduleRetry();
        },
      );
  }

  #onAttemptFailed(kind: SessionKind, attempt: number, startedAt: number, code: number, reason: string, report: (a: ConnectAttempt) => void): void {
    const fatal = isFatalClose(code, reason);
    const why = `AI session closed at open (${code}${reason ? ` ${reason}` : ''})`;
    report({ attempt, kind, outcome: fatal ? 'fatal' : 'transient', reason: why, ms: this.options.now() - startedAt, failure: { closeCode: code, closeReason: reason } });
    if (fatal) return this.#fatal(why);
    if (kind === 'rollover' && this.#current !== undefined) return;
    this.#scheduleRetry();
  }

  #onEvent(event: ServerEvent, connection: RealtimeConnection): void {
    if (event.type === 'error') {
      if (isFatalErrorCode(event.code)) {
        connection.close(1000, 'fatal error');
        this.#current = undefined;
        return this.#fatal(`AI service error: ${event.code}`);
      }
      if (event.code === 'session_expired') {
        // The cap was reached before a planned rollover could happen: roll now, unplanned.
        // The old session is closing; if it goes before the new one is ready, the call is in outage until then.
        this.#expired = connection;
        this.handlers.onEvent(event);
        return this.rollover();
      }
    }
    this.handlers.onEvent(event);
  }

  /** Drops the current session as lost (the call treats it as an outage until the next one is active). */
  #loseCurrent(reason: string, closeReason = 'lost'): void {
    const lost = this.#current;
    this.#current = undefined;
    this.#expired = undefined;
    // One whose close frame is already in has its close under way.
    if (lost?.isOpen === true) lost.close(1000, closeReason);
    this.handlers.onOutage(reason);
  }

  #onDrop(code: number, reason: string): void {
    this.#current = undefined;
    this.#expired = undefined;
    const why = `AI session closed (${code}${reason ? ` ${reason}` : ''})`;
    if (isFatalClose(code, reason)) return this.#fatal(why);
    this.handlers.onOutage(why);
    // A rollover already under way becomes the reconnect.
    if (!this.#connecting) this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    const delay = this.#policy.nextDelayMs();
    clearTimeout(this.#retryTimer);
    // The first retry goes out at once, but from a fresh tick so a failing attempt never recurses.
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#current === undefined && !this.#connecting) this.#open('reconnect');
    }, delay);
  }

  #fatal(reason: string): void {
    if (this.#closed) return;
    this.close('gave_up');
    this.handlers.onFatal(reason);
  }
}
