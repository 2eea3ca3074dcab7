// G.711 μ-law codec: bit-identical to the `alawmulaw` oracle, exhaustively,
// both as the shared tables and through each kernel's transcoder path.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import alawmulaw from 'alawmulaw';
import { MULAW_DECODE_TABLE, MULAW_ENCODE_TABLE, MULAW_SILENCE, mulawDecodeSample, mulawEncodeSample } from '../src/audio/mulaw.js';
import { MULAW_SILENCE as EXPORTED_SILENCE } from '../src/audio/index.js';
const oracle = alawmulaw.mulaw;
import { availableKernels, getKernel } from '../src/audio/index.js';

test('decode matches alawmulaw for all 256 codes', () => {
  // The batch API yields Int16Array samples; decodeSample(0x7f) is -0, which is 0 as a sample.
  const all = oracle.decode(Uint8Array.from({ length: 256 }, (_, c) => c));
  for (let c = 0; c < 256; c++) {
    const want = all[c];
    assert.equal(mulawDecodeSample(c), want, `code ${c}`);
    assert.equal(MULAW_DECODE_TABLE[c], want, `table code ${c}`);
  }
});

test('encode matches alawmulaw for all 65,536 inputs', () => {
  for (let s = -32768; s <= 32767; s++) {
    const want = oracle.encodeSample(s) & 0xff;
    if (mulawEncodeSample(s) !== want || MULAW_ENCODE_TABLE[s & 0xffff] !== want) {
      assert.fail(`sample ${s}: got ${mulawEncodeSample(s)} / ${MULAW_ENCODE_TABLE[s & 0xffff]}, want ${want}`);
    }
  }
});

test('silence byte is 0xff and decodes to 0', () => {
  assert.equal(MULAW_SILENCE, 0xff);
  assert.equal(EXPORTED_SILENCE, 0xff);
  assert.equal(mulawDecodeSample(MULAW_SILENCE), 0);
});

for (const kind of availableKernels()) {
  test(`${kind} kernel: decode and encode tables inside the kernel match the oracle`, () => {
    const k = getKernel(kind);
    // Decode path: a constant code held long enough that the filter output settles to the decoded value.
    for (let c = 0; c < 256; c++) {
      for (let i = 0; i < 200; i++) k.upMulaw[i] = c;
      k.upLine.fill(0, 0, 31);
      k.decodeUpsample(200);
      for (let i = 0; i < 200; i++) assert.equal(k.upLine[31 + i], oracle.decodeSample(c) | 0, `decode ${c}`);
    }
    // Encode path: a settled constant passes the unity-DC-gain filter unchanged, so the byte is the encoding of it.
    for (let s = -32768; s <= 32767; s += 1) {
      k.downLine.fill(s, 0, 95 + 3);
      k.downsampleEncode(1);
      if (k.downMulaw[0] !== (oracle.encodeSample(s) & 0xff)) assert.fail(`encode ${s}`);
    }
  });
}
