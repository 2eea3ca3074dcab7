// Owns reading and writing of mono PCM16 WAV files, for fixtures, the call
// simulator, the local realtime peer and the benchmarks. The live call path
// never touches WAV: Twilio and the AI exchange raw headerless audio.

import { readFileSync, writeFileSync } from 'node:fs';

export interface WavAudio {
  readonly sampleRate: number;
  readonly samples: Int16Array;
}

export class WavFormatError extends Error {
  readonly code = 'BRIDGE_ERR_WAV';
}

/** Parses a RIFF/WAVE buffer holding mono 16-bit PCM. */
export function parseWav(buf: Buffer): WavAudio {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  let offset = 12;
  let sampleRate = 0;
  let formatSeen = false;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      const format = buf.readUInt16LE(body);
      const channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      const bits = buf.readUInt16LE(body + 14);
      // 0xfffe (extensible) carries PCM too; its sub-format is not checked here.
      if ((format !== 1 && format !== 0xfffe) || channels !== 1 || bits !== 16) {
        throw new WavFormatError(`unsupported WAV: format ${format}, ${channels} channels, ${bits} bits (need mono PCM16)`);
      }
      formatSeen = true;
    } else if (id === 'data') {
      if (!formatSeen) throw new WavFormatError('data chunk before fmt chunk');
      const end = Math.min(buf.length, body + size);
      const count = Math.floor((end - body) / 2);
      const samples = new Int16Array(count);
      for (let i = 0; i < count; i++) samples[i] = buf.readInt16LE(body + 2 * i);
      return { sampleRate, samples };
    }
    offset = body + size + (size & 1);
  }
  throw new WavFormatError('no data chunk');
}

export function readWav(path: string): WavAudio {
  return parseWav(readFileSync(path));
}

/** Serialises mono PCM16 samples as a canonical 44-byte-header WAV. */
export function encodeWav(audio: WavAudio): Buffer {
  const dataBytes = audio.samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(audio.sampleRate, 24);
  out.writeUInt32LE(audio.sampleRate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < audio.samples.length; i++) out.writeInt16LE(audio.samples[i]!, 44 + 2 * i);
  return out;
}

export function writeWav(path: string, audio: WavAudio): void {
  writeFileSync(path, encodeWav(audio));
}
