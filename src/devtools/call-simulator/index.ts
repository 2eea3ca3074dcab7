// The call simulator's public surface: Twilio + a caller, played against the
// bridge over real sockets. High level: `runSimulatedCall` / `SimulatedCall`.
// Low level, for bad-input tests: signing, webhook and upgrade clients,
// message builders, the TwiML parser, the playback model.

export { runSimulatedCall, SimulatedCall, type SimulatedCallOptions } from './simulated-call.js';
export { SharedTicker } from './shared-ticker.js';
export { computeTurns, formatReport, type CallReport, type CloseInitiator, type MediaReceived, type Turn } from './report.js';
export { CallScript, describeStep, type AssistantView, type CallStep, type FrameDecision, type ScriptTimeout, type SpeechSegment } from './script.js';
export { TwilioPlayback, PLAYBACK_RATE, type ClearRecord, type MarkRecord, type PlaybackSpan } from './playback.js';
export { ClipCache, makeClip, loadSamples, SILENT_PAYLOAD, FRAME_MS, FRAME_SAMPLES, type AudioSource, type CallerClip } from './caller-audio.js';
export { signWebhook, signStreamUrl } from './signing.js';
export { postVoiceWebhook, voiceWebhookParams, VOICE_PATH, type PostVoiceWebhookOptions, type VoiceWebhookResult, type InboundCallFields } from './webhook-client.js';
export { openStream, loopbackStreamUrl, TWILIO_WS_USER_AGENT, type OpenStreamOptions, type OpenStreamResult } from './stream-client.js';
export { parseTwiml, decodeXmlEntities, type ParsedTwiml, type TwimlStream } from './twiml.js';
export {
  connectedMessage,
  startMessage,
  mediaMessage,
  dtmfMessage,
  markEchoMessage,
  stopMessage,
  MULAW_8K,
  type TwilioStreamMessage,
  type StartFields,
  type MediaFields,
} from './messages.js';
export { parseBridgeMessage, type BridgeMessage, type ProtocolViolation, type ViolationKind } from './bridge-messages.js';
export { newCallSid, newStreamSid, twilioSid } from './ids.js';
