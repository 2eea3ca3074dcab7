// Resampler quality targets of issue 3, measured against a float64
// Kaiser-sinc reference (bench/quality.ts) on 4 s of the speech fixtures,
// for every kernel this runtime offers. The bench prints the same figures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readWav } from '../src/audio/wav.js';
import { AUDIO_DELAY_MS, DOWN_DELAY_SAMPLES_8K, DownsampleBy3, UP_DELAY_SAMPLES_24K, UpsampleBy3, availableKernels } from '../src/audio/index.js';
import { measureDown, measureUp } from '../bench/quality.js';

const speech8k = readWav(new URL('../fixtures/speech-60s-8k.wav', import.meta.url).pathname).samples.subarray(8000 * 2, 8000 * 6);
const speech24k = readWav(new URL('../fixtures/speech-60s-24k.wav', import.meta.url).pathname).samples.subarray(24000 * 2, 24000 * 6);

test('declared filter delay is at most 2 ms and whole samples at both rates', () => {
  assert.ok(AUDIO_DELAY_MS <= 2, `${AUDIO_DELAY_MS} ms`);
  assert.equal(UP_DELAY_SAMPLES_24K, 45);
  assert.equal(DOWN_DELAY_SAMPLES_8K, 15);
});

for (const kind of availableKernels()) {
  test(`${kind}: 8 → 24 kHz meets SNR ≥ 60 dB, image rejection ≥ 60 dB, ripple ≤ 0.1 dB, delay ≤ 2 ms`, () => {
    const q = measureUp(() => {
      const r = new UpsampleBy3({ kernel: kind });
      return (c) => r.process(c);
    }, speech8k, UP_DELAY_SAMPLES_24K);
    assert.ok(q.snrDb >= 60, `SNR ${q.snrDb.toFixed(1)} dB`);
    assert.ok(q.rejectionDb >= 60, `image rejection ${q.rejectionDb.toFixed(1)} dB`);
    assert.ok(q.rippleDb <= 0.1, `ripple ${q.rippleDb.toFixed(4)} dB`);
    assert.ok(q.delayMs <= 2, `delay ${q.delayMs} ms`);
  });

  test(`${kind}: 24 → 8 kHz meets SNR ≥ 60 dB, alias rejection ≥ 60 dB, ripple ≤ 0.1 dB, delay ≤ 2 ms`, () => {
    const q = measureDown(() => {
      const r = new DownsampleBy3({ kernel: kind });
      return (c) => r.process(c);
    }, speech24k, DOWN_DELAY_SAMPLES_8K);
    assert.ok(q.snrDb >= 60, `SNR ${q.snrDb.toFixed(1)} dB`);
    assert.ok(q.rejectionDb >= 60, `alias rejection ${q.rejectionDb.toFixed(1)} dB`);
    assert.ok(q.rippleDb <= 0.1, `ripple ${q.rippleDb.toFixed(4)} dB`);
    assert.ok(q.delayMs <= 2, `delay ${q.delayMs} ms`);
  });
}

test('the measured delay agrees with the declared one (impulse peak and speech cross-correlation)', () => {
  const up = new UpsampleBy3({ kernel: 'js' });
  const imp = new Int16Array(160);
  imp[10] = 16384;
  const y = up.process(imp);
  let peak = 0;
  for (let i = 1; i < y.length; i++) if (y[i]! > y[peak]!) peak = i;
  assert.equal(peak, 30 + UP_DELAY_SAMPLES_24K);

  const down = new DownsampleBy3({ kernel: 'js' });
  const imp24 = new Int16Array(480);
  imp24[30] = 16384;
  const z = down.process(imp24);
  let peak8 = 0;
  for (let i = 1; i < z.length; i++) if (z[i]! > z[peak8]!) peak8 = i;
  assert.equal(peak8, 10 + DOWN_DELAY_SAMPLES_8K);

  // Estimated, not declared: the cross-correlation with the zero-delay reference finds the same lag.
  const q = measureUp(() => {
    const r = new UpsampleBy3({ kernel: 'js' });
    return (c) => r.process(c);
  }, speech8k.subarray(0, 8000 * 2));
  assert.ok(Math.abs(q.delayMs - AUDIO_DELAY_MS) < 0.01, `estimated ${q.delayMs} ms`);
});
