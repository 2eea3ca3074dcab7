import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReconnectPolicy, isFatalClose, isFatalErrorCode, isFatalUpgradeStatus } from '../src/upstream/reconnect-policy.js';

test('first retry is immediate, then 250 ms doubling, capped at 5 s', () => {
  const p = new ReconnectPolicy(undefined, () => 0.5); // 0.5 = no jitter
  const delays = Array.from({ length: 9 }, () => p.nextDelayMs());
  assert.deepEqual(delays, [0, 250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
});

test('jitter stays within ±20 % and never exceeds the cap', () => {
  for (const r of [0, 0.999999]) {
    const p = new ReconnectPolicy(undefined, () => r);
    const delays = Array.from({ length: 8 }, () => p.nextDelayMs());
    assert.equal(delays[0], 0);
    assert.equal(delays[1], r === 0 ? 200 : 300);
    assert.equal(delays[2], r === 0 ? 400 : 600);
    assert.ok(delays.every((d) => d <= 5000));
    assert.equal(delays[7], r === 0 ? 4000 : 5000);
  }
});

test('a success resets the schedule', () => {
  const p = new ReconnectPolicy(undefined, () => 0.5);
  p.nextDelayMs();
  p.nextDelayMs();
  p.reset();
  assert.equal(p.nextDelayMs(), 0);
  assert.equal(p.failures, 1);
});

test('fatal failures are told apart from transient ones', () => {
  assert.ok(isFatalClose(3000, 'invalid_api_key'));
  assert.ok(isFatalClose(4000, 'beta_api_shape_disabled'));
  assert.ok(!isFatalClose(1006, ''));
  assert.ok(!isFatalClose(1001, 'going away'));
  assert.ok(isFatalErrorCode('insufficient_quota'));
  assert.ok(!isFatalErrorCode('session_expired'));
  assert.ok(isFatalUpgradeStatus(401) && isFatalUpgradeStatus(403));
  assert.ok(!isFatalUpgradeStatus(503) && !isFatalUpgradeStatus(429));
});
