// Owns the `session.update` the bridge sends on every new realtime session
// (GA shape). The same message is sent again on every reconnect, so it is a
// pure function of the configuration.

import type { AudioMode, TurnDetection } from '../config/config.js';

export interface SessionSettings {
  readonly audioMode: AudioMode;
  readonly instructions: string;
  readonly voice: string;
  readonly transcriptionModel: string;
  readonly turnDetection: TurnDetection;
}

/** Tools the bridge itself carries out. */
export const BRIDGE_TOOLS = [
  {
    type: 'function',
    name: 'end_call',
    description: 'Hang up the phone call. Say goodbye first; the call ends once the caller has heard it.',
    parameters: { type: 'object', properties: {}, additionalProperties: false },
  },
] as const;

export function sessionUpdate(settings: SessionSettings): string {
  const format = settings.audioMode === 'pcmu' ? { type: 'audio/pcmu' } : { type: 'audio/pcm', rate: 24000 };
  return JSON.stringify({
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: settings.instructions,
      output_modalities: ['audio'],
      audio: {
        input: {
          format,
          turn_detection: {
            type: 'server_vad',
            threshold: settings.turnDetection.threshold,
            prefix_padding_ms: settings.turnDetection.prefixPaddingMs,
            silence_duration_ms: settings.turnDetection.silenceDurationMs,
            create_response: true,
            interrupt_response: true,
          },
          transcription: { model: settings.transcriptionModel },
        },
        output: { format, voice: settings.voice },
      },
      tools: BRIDGE_TOOLS,
    },
  });
}
