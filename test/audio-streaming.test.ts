// Streaming contract of the transcoders: one frame in gives exactly one frame
// out from the first frame on; 20 ms chunks (and ragged ones, odd byte counts
// outbound) give output bit-identical to one whole-signal call, on a sweep and
// on speech; reset() forgets everything; the kernels agree with each other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { sweep } from '../bench/quality.js';
import {
  DownsampleBy3,
  MULAW_SILENCE,
  UpsampleBy3,
  availableKernels,
  createInboundTranscoder,
  createOutboundTranscoder,
  defaultKernelKind,
  type KernelKind,
} from '../src/audio/index.js';
import { MULAW_ENCODE_TABLE } from '../src/audio/mulaw.js';

const speech8k = readWav(new URL('../fixtures/speech-60s-8k.wav', import.meta.url).pathname).samples.subarray(0, 8000 * 8);
const speech24k = readWav(new URL('../fixtures/speech-60s-24k.wav', import.meta.url).pathname).samples.subarray(0, 24000 * 8);
const sweep8k = sweep(8000, 20, 3990, 4, 20000);
const sweep24k = sweep(24000, 20, 11990, 4, 20000);

function toMulaw(x: Int16Array): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = MULAW_ENCODE_TABLE[x[i]! & 0xffff]!;
  return out;
}

function toBytes(x: Int16Array): Uint8Array {
  const out = new Uint8Array(2 * x.length);
  for (let i = 0; i < x.length; i++) {
    out[2 * i] = x[i]! & 0xff;
    out[2 * i + 1] = (x[i]! >> 8) & 0xff;
  }
  return out;
}

/** Feeds `input` to `fn` in chunks whose sizes come from `sizes` (cycled), concatenating copies of the outputs. */
function chunked(input: Uint8Array, sizes: readonly number[], fn: (c: Uint8Array) => Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let pos = 0, k = 0; pos < input.length; k++) {
    const n = Math.min(sizes[k % sizes.length]!, input.length - pos);
    parts.push(fn(input.subarray(pos, pos + n)).slice());
    pos += n;
  }
  return new Uint8Array(Buffer.concat(parts));
}

// Deterministic ragged chunk sizes: odd byte counts, sizes not a multiple of 3 samples, 0, 1, and large.
const RAGGED = [1, 0, 7, 960, 333, 2, 5, 4801, 3, 1919, 6, 11, 12345];

test('the default kernel is the fastest available', () => {
  const kinds = availableKernels();
  assert.equal(defaultKernelKind(), kinds[kinds.length - 1]);
});

for (const kind of availableKernels()) {
  const opts = { kernel: kind as KernelKind };

  test(`${kind}: every 20 ms frame in gives exactly one frame out, from the first frame`, () => {
    const inbound = createInboundTranscoder(opts);
    const outbound = createOutboundTranscoder(opts);
    const mulaw = toMulaw(speech8k);
    const pcm = toBytes(speech24k);
    for (let f = 0; f < 50; f++) {
      assert.equal(inbound.transcode(mulaw.subarray(160 * f, 160 * (f + 1))).length, 960);
      assert.equal(outbound.transcode(pcm.subarray(960 * f, 960 * (f + 1))).length, 160);
    }
  });

  for (const [name, sig8, sig24] of [
    ['sweep', sweep8k, sweep24k],
    ['speech', speech8k, speech24k],
  ] as const) {
    test(`${kind}: ${name}: 20 ms chunks and ragged chunks are bit-identical to one call`, () => {
      const mulaw = toMulaw(sig8);
      const whole = createInboundTranscoder(opts).transcode(mulaw).slice();
      assert.equal(whole.length, 6 * mulaw.length);
      const a = createInboundTranscoder(opts);
      assert.deepEqual(chunked(mulaw, [160], (c) => a.transcode(c)), whole);
      const b = createInboundTranscoder(opts);
      assert.deepEqual(chunked(mulaw, RAGGED, (c) => b.transcode(c)), whole);

      const pcm = toBytes(sig24);
      const wholeDown = createOutboundTranscoder(opts).transcode(pcm).slice();
      assert.equal(wholeDown.length, Math.floor(pcm.length / 6));
      const c = createOutboundTranscoder(opts);
      assert.deepEqual(chunked(pcm, [960], (x) => c.transcode(x)), wholeDown);
      const d = createOutboundTranscoder(opts);
      assert.deepEqual(chunked(pcm, RAGGED, (x) => d.transcode(x)), wholeDown);

      const up = new UpsampleBy3(opts);
      const upWhole = up.process(sig8).slice();
      up.reset();
      const upParts: number[] = [];
      for (let p = 0; p < sig8.length; p += 160) upParts.push(...up.process(sig8.subarray(p, p + 160)));
      assert.deepEqual(Int16Array.from(upParts), upWhole);
      const down = new DownsampleBy3(opts);
      const downWhole = down.process(sig24).slice();
      down.reset();
      const downParts: number[] = [];
      for (let p = 0, k = 0; p < sig24.length; k++) {
        const n = [480, 1, 2, 479, 1000][k % 5]!;
        downParts.push(...down.process(sig24.subarray(p, p + n)));
        p += n;
      }
      assert.deepEqual(Int16Array.from(downParts), downWhole);
    });
  }

  test(`${kind}: reset() drops history and carried bytes (as on a Twilio clear)`, () => {
    const pcm = toBytes(speech24k.subarray(24000, 24000 + 4800));
    const fresh = createOutboundTranscoder(opts).transcode(pcm).slice();
    const used = createOutboundTranscoder(opts);
    used.transcode(toBytes(speech24k.subarray(0, 1001)).subarray(0, 2001)); // leaves history and an odd carried byte
    used.reset();
    assert.deepEqual(used.transcode(pcm).slice(), fresh);

    const mulaw = toMulaw(speech8k.subarray(8000, 9600));
    const freshIn = createInboundTranscoder(opts).transcode(mulaw).slice();
    const usedIn = createInboundTranscoder(opts);
    usedIn.transcode(toMulaw(speech8k.subarray(0, 800)));
    usedIn.reset();
    assert.deepEqual(usedIn.transcode(mulaw).slice(), freshIn);
  });

  test(`${kind}: silence in gives silence out, and the output view is reused frame to frame`, () => {
    const inbound = createInboundTranscoder(opts);
    const outbound = createOutboundTranscoder(opts);
    const first = inbound.transcode(new Uint8Array(160).fill(MULAW_SILENCE));
    assert.ok(first.every((b) => b === 0));
    assert.equal(inbound.transcode(new Uint8Array(160).fill(MULAW_SILENCE)), first, 'same view object: no allocation per frame');
    const o1 = outbound.transcode(new Uint8Array(960));
    assert.ok(o1.every((b) => b === MULAW_SILENCE));
    assert.equal(outbound.transcode(new Uint8Array(960)), o1);
  });

  test(`${kind}: transcoders of different calls sharing the kernel do not disturb each other`, () => {
    const mulaw = toMulaw(speech8k.subarray(0, 8000));
    const alone = chunked(mulaw, [160], ((t) => (c: Uint8Array) => t.transcode(c))(createInboundTranscoder(opts)));
    const a = createInboundTranscoder(opts);
    const b = createInboundTranscoder(opts);
    const parts: Uint8Array[] = [];
    for (let p = 0; p < mulaw.length; p += 160) {
      parts.push(a.transcode(mulaw.subarray(p, p + 160)).slice());
      b.transcode(mulaw.subarray(mulaw.length - p - 160, mulaw.length - p));
    }
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), alone);
  });
}

test('all kernels give identical output (the contract allows 1 LSB; integer arithmetic gives 0)', () => {
  const kinds = availableKernels();
  const mulaw = toMulaw(speech8k);
  const pcm = toBytes(speech24k);
  const ref = kinds.map((kind) => ({
    up: chunked(mulaw, [160], ((t) => (c: Uint8Array) => t.transcode(c))(createInboundTranscoder({ kernel: kind }))),
    down: chunked(pcm, [960], ((t) => (c: Uint8Array) => t.transcode(c))(createOutboundTranscoder({ kernel: kind }))),
  }));
  for (let k = 1; k < kinds.length; k++) {
    assert.deepEqual(ref[k]!.up, ref[0]!.up, `${kinds[k]} vs ${kinds[0]} inbound`);
    assert.deepEqual(ref[k]!.down, ref[0]!.down, `${kinds[k]} vs ${kinds[0]} outbound`);
  }
});
