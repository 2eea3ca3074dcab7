// Owns G.711 μ-law: the 256-entry decode table and the 65,536-entry encode
// table, both computed once at import from the G.711 segment formula. Output
// must stay bit-identical to `alawmulaw` (the test oracle), including its
// quirk of adding the 0x84 bias before clipping at 32635.

/** The μ-law byte for digital silence (+0). */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

/** Decodes one μ-law byte to a linear 16-bit sample. */
export function mulawDecodeSample(code: number): number {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  // Segment e spans (mantissa·8 + bias)·2^e; removing the bias gives the level.
  const magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  // `| 0` so code 0x7f gives 0, not -0 (alawmulaw returns -0 there; as a sample it is 0).
  return ((u & 0x80) !== 0 ? -magnitude : magnitude) | 0;
}

/** Encodes one linear 16-bit sample (-32768..32767) to a μ-law byte. */
export function mulawEncodeSample(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = (sample < 0 ? -sample : sample) + BIAS;
  if (magnitude > CLIP) magnitude = CLIP;
  // magnitude >= 0x84 so its top bit is bit 7..14: the segment is that minus 7.
  const exponent = 31 - Math.clz32(magnitude) - 7;
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** code → sample. Shared by every call; read-only after import. */
export const MULAW_DECODE_TABLE: Int16Array = (() => {
  const t = new Int16Array(256);
  for (let c = 0; c < 256; c++) t[c] = mulawDecodeSample(c);
  return t;
})();

/** (sample & 0xffff) → code. 64 KiB once per process, so encoding is one load. */
export const MULAW_ENCODE_TABLE: Uint8Array = (() => {
  const t = new Uint8Array(65536);
  for (let u = 0; u < 65536; u++) t[u] = mulawEncodeSample((u << 16) >> 16);
  return t;
})();
