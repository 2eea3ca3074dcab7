// "Zero allocations per frame in steady state": after warm-up, hundreds of
// thousands of 20 ms frames through each transcoder must not trigger a single
// garbage collection, and the heap must not grow with the number of frames.
// A control that allocates one small view per call proves the check can fail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocationPerCall } from '../bench/alloc.js';
import { availableKernels, createInboundTranscoder, createOutboundTranscoder } from '../src/audio/index.js';

const mulaw = Uint8Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff);
const pcm = Uint8Array.from({ length: 960 }, (_, i) => (i * 91) & 0xff);

test('control: a per-call allocation is detected', async () => {
  const r = await allocationPerCall(() => pcm.subarray(0, 5), 20_000, 200_000);
  assert.ok(r.gcs > 0 || r.bytesPerCall >= 1, JSON.stringify(r));
});

for (const kind of availableKernels()) {
  // The TypeScript kernel is ~20× slower: fewer frames keep the test short.
  const [short, long] = kind === 'wasm' ? [40_000, 400_000] : [5_000, 50_000];
  test(`${kind}: inbound and outbound 20 ms frames allocate nothing in steady state`, async () => {
    const inbound = createInboundTranscoder({ kernel: kind });
    const outbound = createOutboundTranscoder({ kernel: kind });
    const a = await allocationPerCall(() => inbound.transcode(mulaw), short, long);
    assert.ok(a.gcs === 0 && a.bytesPerCall < 1, `inbound ${JSON.stringify(a)}`);
    const b = await allocationPerCall(() => outbound.transcode(pcm), short, long);
    assert.ok(b.gcs === 0 && b.bytesPerCall < 1, `outbound ${JSON.stringify(b)}`);
  });
}
