// Owns what the peer remembers for tests to inspect: every token request,
// every upgrade attempt, and per socket the credential used, headers, every
// client event received and server event sent, the conversation and how the
// socket closed. Also the typed event map tests subscribe to. Records are
// appended by the server and sessions; tests only read them.
// The Authorization header is reduced to the kind of credential it carried;
// everything else (URL, other headers) is kept verbatim so a test can catch a
// key leaking through any other channel.

import type { ClientEvent, ProtocolError } from './client-events.js';
import type { ConversationItem } from './conversation.js';
import type { WireSession } from './session-config.js';

/** Which credential a request carried. `expired`/`unknown` are bearer values the peer rejected. */
export type CredentialKind = 'none' | 'malformed' | 'apiKey' | 'ephemeral' | 'expired' | 'unknown';

export interface CredentialRecord {
  readonly kind: CredentialKind;
  /** The ek_ value for ephemeral/expired tokens (they are the peer's own, and tests match them to mints). */
  readonly token?: string;
}

export interface TokenRequestRecord {
  /** performance.now() when the request arrived. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly credential: CredentialRecord;
  /** The same as credential.kind: which kind of key the Authorization header carried. */
  readonly authorization: CredentialKind;
  /** Parsed JSON body, or null when absent or not JSON. */
  readonly body: unknown;
  /** HTTP status answered; 'stalled' or 'reset' for injected faults. Set once answered. */
  status: number | 'stalled' | 'reset' | null;
  /** The ek_ minted, on success. */
  token?: string;
}

export type UpgradeOutcome =
  | { readonly kind: 'accepted' }
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'reset' }
  | { readonly kind: 'hang' };

export interface UpgradeRecord {
  readonly at: number;
  /** Path and query exactly as requested. */
  readonly url: string;
  readonly path: string;
  readonly model: string | null;
  readonly credential: CredentialRecord;
  /** Request headers, Authorization reduced to its credential kind. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly outcome: UpgradeOutcome;
}

export interface ReceivedEvent {
  readonly at: number;
  /** The event's `type` when it had a string one. */
  readonly type: string | null;
  /** The checked event, when it parsed. */
  readonly event?: ClientEvent;
  /** Why it was rejected, when it did not. */
  readonly error?: ProtocolError;
  /** Byte length of the decoded audio of an append (kept even when recordAudio is off). */
  readonly audioBytes?: number;
}

export interface SentEvent {
  readonly at: number;
  readonly type: string;
  /** Exactly what went on the wire (parsed form). With recordAudio off, audio deltas hold '' and audioBytes says how much was sent. */
  readonly event: Readonly<Record<string, unknown>>;
  readonly audioBytes?: number;
}

export interface CloseRecord {
  readonly at: number;
  readonly code: number;
  readonly reason: string;
  /** Who ended it: the peer (including injected faults) or the client. */
  readonly by: 'peer' | 'client';
  /** True when the TCP socket was cut without a close frame. */
  readonly abrupt: boolean;
}

/** Everything known about one accepted socket. */
export interface PeerSession {
  /** Position in peer.sessions. */
  readonly index: number;
  /** The session id reported in session.created (sess_…). */
  readonly id: string;
  readonly openedAt: number;
  readonly credential: CredentialRecord;
  /** Upgrade request headers, Authorization reduced to `Bearer <kind>`. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Path and query of the upgrade request, verbatim. */
  readonly url: string;
  /** The `model` query parameter, or null when absent. */
  readonly model: string | null;
  readonly received: readonly ReceivedEvent[];
  readonly sent: readonly SentEvent[];
  /** The conversation, live; empty for sockets rejected after the upgrade. */
  readonly conversation: readonly ConversationItem[];
  /** Current session configuration in the wire (GA) shape session.updated reports; null for sockets rejected after the upgrade. */
  readonly config: WireSession | null;
  readonly closed: CloseRecord | null;
  /** Sent events of one type, in order. */
  sentOfType(type: string): readonly Readonly<Record<string, unknown>>[];
  /** Parsed client events of one type, in order. */
  receivedOfType<T extends ClientEvent['type']>(type: T): readonly Extract<ClientEvent, { type: T }>[];
}

export interface SpeechStartedInfo { readonly itemId: string; readonly audioStartMs: number }
export interface SpeechStoppedInfo { readonly itemId: string; readonly audioEndMs: number }
export interface ResponseInfo { readonly responseId: string; readonly trigger: 'turn' | 'response.create' }
export interface ResponseAudioInfo { readonly responseId: string; readonly itemId: string; readonly bytes: number; /** Audio sent so far in this response. */ readonly sentMs: number }
export interface ToolCallInfo { readonly responseId: string; readonly itemId: string; readonly callId: string; readonly name: string; readonly arguments: string }
export interface ResponseDoneInfo { readonly responseId: string; readonly status: 'completed' | 'cancelled' }

/** Events a peer emits; listeners run synchronously, in the middle of the protocol step that caused them. */
export interface PeerEventMap {
  tokenRequest: [TokenRequestRecord];
  upgrade: [UpgradeRecord];
  /** A socket was accepted (including ones about to be closed with 3000/4000). */
  session: [PeerSession];
  sessionClosed: [PeerSession];
  clientEvent: [PeerSession, ReceivedEvent];
  serverEvent: [PeerSession, SentEvent];
  speechStarted: [PeerSession, SpeechStartedInfo];
  speechStopped: [PeerSession, SpeechStoppedInfo];
  responseCreated: [PeerSession, ResponseInfo];
  /** After each output_audio.delta is written. */
  responseAudio: [PeerSession, ResponseAudioInfo];
  /** After response.function_call_arguments.done is written, before response.done. */
  toolCall: [PeerSession, ToolCallInfo];
  responseDone: [PeerSession, ResponseDoneInfo];
}

export type PeerEventName = keyof PeerEventMap;
export type Emit = <K extends PeerEventName>(name: K, ...args: PeerEventMap[K]) => void;

/** The mutable side of a PeerSession, owned by the server and the session state machine. */
export class SessionRecord implements PeerSession {
  readonly received: ReceivedEvent[] = [];
  readonly sent: SentEvent[] = [];
  closed: CloseRecord | null = null;
  conversationSource: (() => readonly ConversationItem[]) | null = null;
  configSource: (() => WireSession) | null = null;

  constructor(
    readonly index: number,
    readonly id: string,
    readonly openedAt: number,
    readonly credential: CredentialRecord,
    readonly headers: Readonly<Record<string, string | string[] | undefined>>,
    readonly url: string,
    readonly model: string | null,
  ) {}

  get conversation(): readonly ConversationItem[] {
    return this.conversationSource?.() ?? [];
  }

  get config(): WireSession | null {
    return this.configSource?.() ?? null;
  }

  sentOfType(type: string): readonly Readonly<Record<string, unknown>>[] {
    return this.sent.filter((e) => e.type === type).map((e) => e.event);
  }

  receivedOfType<T extends ClientEvent['type']>(type: T): readonly Extract<ClientEvent, { type: T }>[] {
    const out: Extract<ClientEvent, { type: T }>[] = [];
    for (const r of this.received) if (r.event?.type === type) out.push(r.event as Extract<ClientEvent, { type: T }>);
    return out;
  }
}
