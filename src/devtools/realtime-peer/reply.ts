// Owns what the peer says: the reply kinds a test can script (audio with a
// transcript, or a tool call), and the reply audio itself, loaded from WAV
// once and encoded once per output format. Never decides when to speak;
// session.ts asks for a reply when a response starts.

import { fileURLToPath } from 'node:url';
import { readWav } from '../../audio/wav.js';
import { encodeReplyAudio, type AudioFormat } from './audio-format.js';
import type { ConversationItem } from './conversation.js';

export type PeerReply =
  | {
      readonly type: 'audio';
      /** Spoken text; streamed as output_audio_transcript deltas. */
      readonly transcript?: string;
      /** A mono PCM16 WAV at 24 kHz (or 8 kHz, upsampled crudely). Defaults to the peer's reply WAV. */
      readonly wavPath?: string;
      /** Raw 24 kHz PCM16 audio; wins over wavPath. */
      readonly samples24k?: Int16Array;
    }
  | {
      readonly type: 'function_call';
      readonly name: string;
      /** Sent as the arguments string; an object is JSON-encoded. */
      readonly arguments: string | Readonly<Record<string, unknown>>;
      readonly callId?: string;
    };

export interface ReplyContext {
  /** Index of the session in peer.sessions. */
  readonly sessionIndex: number;
  /** 1 for the session's first response. */
  readonly responseNumber: number;
  /** What started the response: the VAD ending a turn, or a response.create. */
  readonly trigger: 'turn' | 'response.create';
  readonly conversation: readonly ConversationItem[];
}

/** Returns the reply for a response, or undefined for the default reply. */
export type ReplyScript = (ctx: ReplyContext) => PeerReply | undefined;

export interface TranscriptContext {
  readonly sessionIndex: number;
  /** 1 for the session's first committed user turn. */
  readonly turnNumber: number;
}
export type TranscriptScript = (ctx: TranscriptContext) => string | undefined;

export const DEFAULT_REPLY_WAV = fileURLToPath(new URL('../../../fixtures/assistant-reply.wav', import.meta.url));
export const DEFAULT_REPLY_TRANSCRIPT = 'Thanks for calling. This is the local realtime peer answering; how can I help you today?';
export const DEFAULT_USER_TRANSCRIPT = 'Hello, I have a question.';

function upsample8kTo24k(input: Int16Array): Int16Array {
  // Linear interpolation: crude, but replies are only ever listened to by tests.
  const out = new Int16Array(input.length * 3);
  for (let i = 0; i < input.length; i++) {
    const a = input[i]!;
    const b = input[i + 1] ?? a;
    out[3 * i] = a;
    out[3 * i + 1] = Math.round(a + (b - a) / 3);
    out[3 * i + 2] = Math.round(a + (2 * (b - a)) / 3);
  }
  return out;
}

/** Loads reply WAVs once and keeps one encoding per (source, format). */
export class ReplyAudioLibrary {
  private readonly samples = new Map<string, Int16Array>();
  private readonly encoded = new Map<string, Buffer>();
  private readonly rawEncoded = new WeakMap<Int16Array, Map<string, Buffer>>();

  constructor(private readonly defaultWav: string) {}

  /** Reads the default WAV now, so a bad path fails at startup rather than mid-call. */
  preload(): void {
    this.load(this.defaultWav);
  }

  encode(reply: Extract<PeerReply, { type: 'audio' }>, format: AudioFormat): Buffer {
    const formatKey = JSON.stringify(format);
    if (reply.samples24k !== undefined) {
      let perFormat = this.rawEncoded.get(reply.samples24k);
      if (perFormat === undefined) this.rawEncoded.set(reply.samples24k, (perFormat = new Map()));
      let buf = perFormat.get(formatKey);
      if (buf === undefined) perFormat.set(formatKey, (buf = encodeReplyAudio(reply.samples24k, format)));
      return buf;
    }
    const path = reply.wavPath ?? this.defaultWav;
    const key = `${path}\u0000${formatKey}`;
    let buf = this.encoded.get(key);
    if (buf === undefined) this.encoded.set(key, (buf = encodeReplyAudio(this.load(path), format)));
    return buf;
  }

  private load(path: string): Int16Array {
    let s = this.samples.get(path);
    if (s === undefined) {
      const wav = readWav(path);
      if (wav.sampleRate === 24000) s = wav.samples;
      else if (wav.sampleRate === 8000) s = upsample8kTo24k(wav.samples);
      else throw new Error(`reply WAV ${path} is ${wav.sampleRate} Hz; the peer needs 24000 or 8000`);
      this.samples.set(path, s);
    }
    return s;
  }
}
