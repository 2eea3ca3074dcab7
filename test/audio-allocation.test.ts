// "Zero allocations per frame in steady state": after warm-up, hundreds of
// thousands of 20 ms frames through each transcoder must not trigger a single
// garbage collection, and the heap must not grow with the number of frames.
// A control that allocates one small view per call proves the check can fail.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocationPerCall, type AllocationResult } from '../bench/alloc.js';
import { availableKernels, createInboundTranscoder, createOutboundTranscoder } from '../src/audio/index.js';

/**
 * Up to 3 attempts: a real per-call allocation shows in every attempt, while a
 * one-off (a JIT recompile landing in the long run) does not repeat.
 */
async function steadyState(call: () => unknown, short: number, long: number): Promise<{ ok: boolean; tries: AllocationResult[] }> {
  const tries: AllocationResult[] = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await allocationPerCall(call, short, long);
    tries.push(r);
    if (r.gcs === 0 && r.bytesPerCall < 1) return { ok: true, tries };
  }
  return { ok: false, tries };
}

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
    const a = await steadyState(() => inbound.transcode(mulaw), short, long);
    assert.ok(a.ok, `inbound ${JSON.stringify(a.tries)}`);
    const b = await steadyState(() => outbound.transcode(pcm), short, long);
    assert.ok(b.ok, `outbound ${JSON.stringify(b.tries)}`);
  });
}
