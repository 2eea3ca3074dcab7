// Owns a realtime session's configuration: the GA-shape defaults, the
// validation and merge of `session.update` (and of the `session` object a
// client secret is minted with), and the wire form sent in session.created /
// session.updated. Pure: no sockets, no clocks. An update is atomic: either
// every field is accepted or the configuration is left as it was.

import { PCM24K, type AudioFormat } from './audio-format.js';

export interface TurnDetection {
  readonly type: 'server_vad' | 'semantic_vad';
  readonly threshold: number;
  readonly prefixPaddingMs: number;
  readonly silenceDurationMs: number;
  readonly createResponse: boolean;
  readonly interruptResponse: boolean;
  readonly idleTimeoutMs: number | null;
  /** semantic_vad only; the peer maps it to a silence duration. */
  readonly eagerness?: 'low' | 'medium' | 'high' | 'auto';
}

export interface SessionConfig {
  readonly model: string;
  readonly instructions: string;
  readonly outputModalities: readonly ['audio'] | readonly ['text'];
  readonly inputFormat: AudioFormat;
  readonly outputFormat: AudioFormat;
  readonly turnDetection: TurnDetection | null;
  readonly transcription: Readonly<Record<string, unknown>> | null;
  readonly noiseReduction: Readonly<Record<string, unknown>> | null;
  readonly voice: string;
  readonly speed: number;
  readonly tools: readonly Readonly<Record<string, unknown>>[];
  readonly toolChoice: unknown;
  readonly maxOutputTokens: number | 'inf';
  readonly tracing: unknown;
  readonly truncation: unknown;
  readonly prompt: unknown;
  readonly include: unknown;
}

export interface ConfigError {
  readonly code: string;
  readonly message: string;
  readonly param: string;
}

export type UpdateResult = { readonly ok: true; readonly config: SessionConfig } | { readonly ok: false; readonly error: ConfigError };

export const DEFAULT_TURN_DETECTION: TurnDetection = Object.freeze({
  type: 'server_vad',
  threshold: 0.5,
  prefixPaddingMs: 300,
  silenceDurationMs: 500,
  createResponse: true,
  interruptResponse: true,
  idleTimeoutMs: null,
});

export function defaultSessionConfig(model: string): SessionConfig {
  return {
    model,
    instructions: '',
    outputModalities: ['audio'],
    inputFormat: PCM24K,
    outputFormat: PCM24K,
    turnDetection: DEFAULT_TURN_DETECTION,
    transcription: null,
    noiseReduction: null,
    voice: 'alloy',
    speed: 1,
    tools: [],
    toolChoice: 'auto',
    maxOutputTokens: 'inf',
    tracing: null,
    truncation: 'auto',
    prompt: null,
    include: null,
  };
}

class Reject extends Error {
  constructor(readonly code: string, readonly param: string, message: string) {
    super(message);
  }
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function expectObj(v: unknown, param: string): Obj {
  if (!isObj(v)) throw new Reject('invalid_type', param, `Invalid type for '${param}': expected an object.`);
  return v;
}

function expectKeys(o: Obj, param: string, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) {
      const hint = BETA_HINTS[key] ?? '';
      throw new Reject('unknown_parameter', `${param}.${key}`, `Unknown parameter: '${param}.${key}'.${hint}`);
    }
  }
}

// Beta-shape fields a migrating client most often still sends; the hint makes the error actionable.
const BETA_HINTS: Readonly<Record<string, string>> = {
  modalities: " (beta shape; GA uses 'output_modalities')",
  input_audio_format: " (beta shape; GA uses 'audio.input.format')",
  output_audio_format: " (beta shape; GA uses 'audio.output.format')",
  turn_detection: " (beta shape at this level; GA uses 'audio.input.turn_detection')",
  input_audio_transcription: " (beta shape; GA uses 'audio.input.transcription')",
  voice: " (beta shape at this level; GA uses 'audio.output.voice')",
  temperature: ' (not part of the GA session)',
};

const SESSION_KEYS = [
  'type', 'model', 'instructions', 'output_modalities', 'audio', 'tools', 'tool_choice', 'max_output_tokens',
  'tracing', 'truncation', 'prompt', 'include',
  // Echoed back by clients that resend a received session object; ignored.
  'object', 'id', 'expires_at',
] as const;

function parseFormat(v: unknown, param: string): AudioFormat {
  const f = expectObj(v, param);
  expectKeys(f, param, ['type', 'rate']);
  switch (f['type']) {
    case 'audio/pcm':
      // Only 24 kHz exists for audio/pcm on the GA API.
      if (f['rate'] !== undefined && f['rate'] !== 24000) {
        throw new Reject('invalid_value', `${param}.rate`, `Invalid value for '${param}.rate': audio/pcm supports only 24000.`);
      }
      return PCM24K;
    case 'audio/pcmu':
    case 'audio/pcma':
      if (f['rate'] !== undefined && f['rate'] !== 8000) {
        throw new Reject('invalid_value', `${param}.rate`, `Invalid value for '${param}.rate': ${f['type']} is 8000 Hz.`);
      }
      return { type: f['type'] };
    default:
      throw new Reject('invalid_value', `${param}.type`, `Invalid value for '${param}.type': expected 'audio/pcm', 'audio/pcmu' or 'audio/pcma'.`);
  }
}

function num(o: Obj, key: string, param: string, min: number, max: number, fallback: number): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new Reject('invalid_value', `${param}.${key}`, `Invalid value for '${param}.${key}': expected a number from ${min} to ${max}.`);
  }
  return v;
}

function bool(o: Obj, key: string, param: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new Reject('invalid_type', `${param}.${key}`, `Invalid type for '${param}.${key}': expected a boolean.`);
  return v;
}

const EAGERNESS_SILENCE_MS = { low: 1000, medium: 600, high: 250, auto: 600 } as const;

function parseTurnDetection(v: unknown, param: string): TurnDetection | null {
  if (v === null) return null;
  const t = expectObj(v, param);
  const createResponse = bool(t, 'create_response', param, true);
  const interruptResponse = bool(t, 'interrupt_response', param, true);
  if (t['type'] === 'server_vad') {
    expectKeys(t, param, ['type', 'threshold', 'prefix_padding_ms', 'silence_duration_ms', 'create_response', 'interrupt_response', 'idle_timeout_ms']);
    const idle = t['idle_timeout_ms'];
    if (idle !== undefined && idle !== null && (typeof idle !== 'number' || !Number.isInteger(idle) || idle < 5000 || idle > 30000)) {
      throw new Reject('invalid_value', `${param}.idle_timeout_ms`, `Invalid value for '${param}.idle_timeout_ms': expected 5000 to 30000 or null.`);
    }
    return {
      type: 'server_vad',
      threshold: num(t, 'threshold', param, 0, 1, DEFAULT_TURN_DETECTION.threshold),
      prefixPaddingMs: num(t, 'prefix_padding_ms', param, 0, 10000, DEFAULT_TURN_DETECTION.prefixPaddingMs),
      silenceDurationMs: num(t, 'silence_duration_ms', param, 0, 10000, DEFAULT_TURN_DETECTION.silenceDurationMs),
      createResponse,
      interruptResponse,
      idleTimeoutMs: typeof idle === 'number' ? idle : null,
    };
  }
  if (t['type'] === 'semantic_vad') {
    expectKeys(t, param, ['type', 'eagerness', 'create_response', 'interrupt_response']);
    const eagerness = t['eagerness'] ?? 'auto';
    if (eagerness !== 'low' && eagerness !== 'medium' && eagerness !== 'high' && eagerness !== 'auto') {
      throw new Reject('invalid_value', `${param}.eagerness`, `Invalid value for '${param}.eagerness'.`);
    }
    // The peer has no semantic model: semantic_vad is the energy VAD with a silence length per eagerness.
    return { ...DEFAULT_TURN_DETECTION, type: 'semantic_vad', eagerness, silenceDurationMs: EAGERNESS_SILENCE_MS[eagerness], createResponse, interruptResponse };
  }
  throw new Reject('invalid_value', `${param}.type`, `Invalid value for '${param}.type': expected 'server_vad' or 'semantic_vad'.`);
}

function nullableObj(v: unknown, param: string): Obj | null {
  return v === null ? null : expectObj(v, param);
}

/**
 * Merges a `session` object (session.update or a client secret's session)
 * into `current`. `voiceLocked` is true once the session has produced audio:
 * the service refuses a voice change after that.
 */
export function applySessionUpdate(current: SessionConfig, patch: unknown, voiceLocked: boolean): UpdateResult {
  try {
    return { ok: true, config: merge(current, expectObj(patch, 'session'), voiceLocked) };
  } catch (err) {
    if (err instanceof Reject) return { ok: false, error: { code: err.code, param: err.param, message: err.message } };
    throw err;
  }
}

function merge(current: SessionConfig, s: Obj, voiceLocked: boolean): SessionConfig {
  if (s['type'] === undefined) throw new Reject('missing_required_parameter', 'session.type', "Missing required parameter: 'session.type'.");
  if (s['type'] !== 'realtime') {
    throw new Reject('invalid_value', 'session.type', "Invalid value for 'session.type': this endpoint accepts only 'realtime'.");
  }
  expectKeys(s, 'session', SESSION_KEYS);
  const next: { -readonly [K in keyof SessionConfig]: SessionConfig[K] } = { ...current };

  if (s['model'] !== undefined) {
    if (typeof s['model'] !== 'string') throw new Reject('invalid_type', 'session.model', "Invalid type for 'session.model': expected a string.");
    next.model = s['model'];
  }
  if (s['instructions'] !== undefined) {
    if (typeof s['instructions'] !== 'string') throw new Reject('invalid_type', 'session.instructions', "Invalid type for 'session.instructions': expected a string.");
    next.instructions = s['instructions'];
  }
  const mods = s['output_modalities'];
  if (mods !== undefined) {
    if (!Array.isArray(mods) || mods.length !== 1 || (mods[0] !== 'audio' && mods[0] !== 'text')) {
      throw new Reject('invalid_value', 'session.output_modalities', "Invalid value for 'session.output_modalities': expected [\"audio\"] or [\"text\"].");
    }
    next.outputModalities = mods[0] === 'audio' ? ['audio'] : ['text'];
  }
  if (s['audio'] !== undefined) {
    const audio = expectObj(s['audio'], 'session.audio');
    expectKeys(audio, 'session.audio', ['input', 'output']);
    if (audio['input'] !== undefined) {
      const input = expectObj(audio['input'], 'session.audio.input');
      expectKeys(input, 'session.audio.input', ['format', 'turn_detection', 'transcription', 'noise_reduction']);
      if (input['format'] !== undefined) next.inputFormat = parseFormat(input['format'], 'session.audio.input.format');
      if (input['turn_detection'] !== undefined) next.turnDetection = parseTurnDetection(input['turn_detection'], 'session.audio.input.turn_detection');
      if (input['transcription'] !== undefined) next.transcription = nullableObj(input['transcription'], 'session.audio.input.transcription');
      if (input['noise_reduction'] !== undefined) next.noiseReduction = nullableObj(input['noise_reduction'], 'session.audio.input.noise_reduction');
    }
    if (audio['output'] !== undefined) {
      const output = expectObj(audio['output'], 'session.audio.output');
      expectKeys(output, 'session.audio.output', ['format', 'voice', 'speed']);
      if (output['format'] !== undefined) next.outputFormat = parseFormat(output['format'], 'session.audio.output.format');
      if (output['voice'] !== undefined) {
        if (typeof output['voice'] !== 'string') throw new Reject('invalid_type', 'session.audio.output.voice', "Invalid type for 'session.audio.output.voice': expected a string.");
        if (voiceLocked && output['voice'] !== current.voice) {
          throw new Reject('cannot_update_voice', 'session.audio.output.voice', 'Cannot update a conversation\'s voice if assistant audio is present.');
        }
        next.voice = output['voice'];
      }
      next.speed = num(output, 'speed', 'session.audio.output', 0.25, 1.5, current.speed);
    }
  }
  if (s['tools'] !== undefined) {
    const tools = s['tools'];
    if (!Array.isArray(tools) || !tools.every(isObj)) throw new Reject('invalid_type', 'session.tools', "Invalid type for 'session.tools': expected an array of objects.");
    next.tools = tools;
  }
  if (s['tool_choice'] !== undefined) next.toolChoice = s['tool_choice'];
  const mot = s['max_output_tokens'];
  if (mot !== undefined) {
    if (mot !== 'inf' && (typeof mot !== 'number' || !Number.isInteger(mot) || mot < 1 || mot > 4096)) {
      throw new Reject('invalid_value', 'session.max_output_tokens', "Invalid value for 'session.max_output_tokens': expected 1 to 4096 or 'inf'.");
    }
    next.maxOutputTokens = mot;
  }
  if (s['tracing'] !== undefined) next.tracing = s['tracing'];
  if (s['truncation'] !== undefined) next.truncation = s['truncation'];
  if (s['prompt'] !== undefined) next.prompt = s['prompt'];
  if (s['include'] !== undefined) next.include = s['include'];
  return next;
}

export type WireTurnDetection =
  | { type: 'server_vad'; threshold: number; prefix_padding_ms: number; silence_duration_ms: number; idle_timeout_ms: number | null; create_response: boolean; interrupt_response: boolean }
  | { type: 'semantic_vad'; eagerness: 'low' | 'medium' | 'high' | 'auto'; create_response: boolean; interrupt_response: boolean };

/** The session object in the GA wire shape (session.created / session.updated / client secret responses). */
export interface WireSession {
  type: 'realtime';
  object: 'realtime.session';
  id: string;
  model: string;
  output_modalities: ('audio' | 'text')[];
  instructions: string;
  tools: readonly Readonly<Record<string, unknown>>[];
  tool_choice: unknown;
  max_output_tokens: number | 'inf';
  tracing: unknown;
  truncation: unknown;
  prompt: unknown;
  expires_at: number;
  include: unknown;
  audio: {
    input: {
      format: AudioFormat;
      transcription: Readonly<Record<string, unknown>> | null;
      noise_reduction: Readonly<Record<string, unknown>> | null;
      turn_detection: WireTurnDetection | null;
    };
    output: { format: AudioFormat; voice: string; speed: number };
  };
}

function turnDetectionToWire(t: TurnDetection | null): WireTurnDetection | null {
  if (t === null) return null;
  if (t.type === 'semantic_vad') {
    return { type: 'semantic_vad', eagerness: t.eagerness ?? 'auto', create_response: t.createResponse, interrupt_response: t.interruptResponse };
  }
  return {
    type: 'server_vad',
    threshold: t.threshold,
    prefix_padding_ms: t.prefixPaddingMs,
    silence_duration_ms: t.silenceDurationMs,
    idle_timeout_ms: t.idleTimeoutMs,
    create_response: t.createResponse,
    interrupt_response: t.interruptResponse,
  };
}

/** The session object as the service reports it in session.created / session.updated. */
export function sessionToWire(id: string, config: SessionConfig, expiresAt: number): WireSession {
  return {
    type: 'realtime',
    object: 'realtime.session',
    id,
    model: config.model,
    output_modalities: [...config.outputModalities],
    instructions: config.instructions,
    tools: config.tools,
    tool_choice: config.toolChoice,
    max_output_tokens: config.maxOutputTokens,
    tracing: config.tracing,
    truncation: config.truncation,
    prompt: config.prompt,
    expires_at: expiresAt,
    include: config.include,
    audio: {
      input: {
        format: config.inputFormat,
        transcription: config.transcription,
        noise_reduction: config.noiseReduction,
        turn_detection: turnDetectionToWire(config.turnDetection),
      },
      output: { format: config.outputFormat, voice: config.voice, speed: config.speed },
    },
  };
}
