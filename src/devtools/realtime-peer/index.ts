// The local realtime peer's public API: a protocol-faithful stand-in for the
// OpenAI Realtime GA service, for the demo, the tests and the benchmarks.
// Nothing on the product's call path may import it.

export { startRealtimePeer, RealtimePeer, type RealtimePeerOptions } from './peer.js';
export type { PeerFaults, FaultMoment, FaultAction, UpgradeRefusal, TokenFailure, ArmOptions } from './faults.js';
export type {
  PeerSession,
  PeerEventMap,
  PeerEventName,
  CredentialKind,
  CredentialRecord,
  TokenRequestRecord,
  UpgradeRecord,
  UpgradeOutcome,
  ReceivedEvent,
  SentEvent,
  CloseRecord,
  SpeechStartedInfo,
  SpeechStoppedInfo,
  ResponseInfo,
  ResponseAudioInfo,
  ToolCallInfo,
  ResponseDoneInfo,
} from './recording.js';
export type { PeerReply, ReplyContext, ReplyScript, TranscriptContext, TranscriptScript } from './reply.js';
export { DEFAULT_REPLY_WAV, DEFAULT_REPLY_TRANSCRIPT, DEFAULT_USER_TRANSCRIPT } from './reply.js';
export type { Pacing } from './response-stream.js';
export { DEFAULT_PACING } from './response-stream.js';
export type { VadTuning } from './session.js';
export type { SessionConfig, TurnDetection, WireSession, WireTurnDetection } from './session-config.js';
export type { ClientEvent, ClientItem, ProtocolError } from './client-events.js';
export type { ConversationItem, ItemContent } from './conversation.js';
export type { AudioFormat } from './audio-format.js';
export { RealtimeTestClient, connectToPeer, mintToken, sendSpeech, type ServerEventJson } from './test-client.js';
export type { MintedToken } from './token-store.js';
