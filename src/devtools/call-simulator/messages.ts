// Owns the messages the simulator sends as Twilio: their types and JSON
// builders, byte-for-byte in Twilio's shape (numeric-looking fields are
// strings, except sampleRate and channels). Builders return strings because
// that is what goes on the socket; the media builder is on the per-frame path
// and is a template string on purpose (no object graph per frame).

export interface MediaFormat {
  readonly encoding: 'audio/x-mulaw';
  readonly sampleRate: 8000;
  readonly channels: 1;
}

export const MULAW_8K: MediaFormat = Object.freeze({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 });

export interface ConnectedMessage {
  readonly event: 'connected';
  readonly protocol: 'Call';
  readonly version: '1.0.0';
}

export interface StartMessage {
  readonly event: 'start';
  readonly sequenceNumber: string;
  readonly streamSid: string;
  readonly start: {
    readonly accountSid: string;
    readonly streamSid: string;
    readonly callSid: string;
    readonly tracks: readonly string[];
    readonly mediaFormat: MediaFormat;
    readonly customParameters: Readonly<Record<string, string>>;
  };
}

export interface MediaMessage {
  readonly event: 'media';
  readonly sequenceNumber: string;
  readonly streamSid: string;
  readonly media: { readonly track: 'inbound'; readonly chunk: string; readonly timestamp: string; readonly payload: string };
}

export interface DtmfMessage {
  readonly event: 'dtmf';
  readonly sequenceNumber: string;
  readonly streamSid: string;
  readonly dtmf: { readonly track: 'inbound_track'; readonly digit: string };
}

export interface MarkEchoMessage {
  readonly event: 'mark';
  readonly sequenceNumber: string;
  readonly streamSid: string;
  readonly mark: { readonly name: string };
}

export interface StopMessage {
  readonly event: 'stop';
  readonly sequenceNumber: string;
  readonly streamSid: string;
  readonly stop: { readonly accountSid: string; readonly callSid: string };
}

export type TwilioStreamMessage = ConnectedMessage | StartMessage | MediaMessage | DtmfMessage | MarkEchoMessage | StopMessage;

export function connectedMessage(): string {
  const m: ConnectedMessage = { event: 'connected', protocol: 'Call', version: '1.0.0' };
  return JSON.stringify(m);
}

export interface StartFields {
  readonly sequenceNumber: number;
  readonly streamSid: string;
  readonly accountSid: string;
  readonly callSid: string;
  readonly customParameters?: Readonly<Record<string, string>>;
  /** Defaults to ['inbound'], what a bidirectional <Connect><Stream> gets. */
  readonly tracks?: readonly string[];
  readonly mediaFormat?: MediaFormat;
}

export function startMessage(f: StartFields): string {
  const m: StartMessage = {
    event: 'start',
    sequenceNumber: String(f.sequenceNumber),
    streamSid: f.streamSid,
    start: {
      accountSid: f.accountSid,
      streamSid: f.streamSid,
      callSid: f.callSid,
      tracks: f.tracks ?? ['inbound'],
      mediaFormat: f.mediaFormat ?? MULAW_8K,
      customParameters: f.customParameters ?? {},
    },
  };
  return JSON.stringify(m);
}

export interface MediaFields {
  readonly sequenceNumber: number;
  readonly streamSid: string;
  readonly chunk: number;
  /** Milliseconds since stream start. */
  readonly timestamp: number;
  /** Base64 μ-law. */
  readonly payload: string;
}

export function mediaMessage(f: MediaFields): string {
  // Hot path. streamSid and payload are JSON-safe as generated (hex and
  // base64), but a caller-supplied streamSid is still escaped to stay valid.
  return (
    `{"event":"media","sequenceNumber":"${f.sequenceNumber}","streamSid":${JSON.stringify(f.streamSid)},` +
    `"media":{"track":"inbound","chunk":"${f.chunk}","timestamp":"${Math.round(f.timestamp)}","payload":"${f.payload}"}}`
  );
}

export function dtmfMessage(f: { sequenceNumber: number; streamSid: string; digit: string }): string {
  const m: DtmfMessage = {
    event: 'dtmf',
    sequenceNumber: String(f.sequenceNumber),
    streamSid: f.streamSid,
    dtmf: { track: 'inbound_track', digit: f.digit },
  };
  return JSON.stringify(m);
}

export function markEchoMessage(f: { sequenceNumber: number; streamSid: string; name: string }): string {
  const m: MarkEchoMessage = { event: 'mark', sequenceNumber: String(f.sequenceNumber), streamSid: f.streamSid, mark: { name: f.name } };
  return JSON.stringify(m);
}

export function stopMessage(f: { sequenceNumber: number; streamSid: string; accountSid: string; callSid: string }): string {
  const m: StopMessage = {
    event: 'stop',
    sequenceNumber: String(f.sequenceNumber),
    streamSid: f.streamSid,
    stop: { accountSid: f.accountSid, callSid: f.callSid },
  };
  return JSON.stringify(m);
}
