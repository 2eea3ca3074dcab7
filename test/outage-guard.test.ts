// The outage clock with fake timers: comfort audio after its delay, a budget
// that pauses while a session is up and resumes if it falls again within
// probation, and outage accounting that leaves out the call's first connect.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { OutageGuard } from '../src/call/outage-guard.js';

/** Fake timers plus a clock that moves with them. */
function fakeTime() {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  let clock = 0;
  return {
    now: () => clock,
    tick(ms: number) {
      // Step in 10 ms slices so timers scheduled by a firing timer run within the same advance.
      for (let left = ms; left > 0; left -= Math.min(10, left)) {
        const step = Math.min(10, left);
        clock += step;
        mock.timers.tick(step);
      }
    },
  };
}

function guard(now: () => number) {
  const events = { comfort: 0, spent: 0 };
  const g = new OutageGuard({
    comfortAfterMs: 500,
    budgetMs: 2000,
    probationMs: 5000,
    now,
    comfortTick: () => events.comfort++,
    onBudgetSpent: () => events.spent++,
  });
  return { g, events };
}

test('comfort audio starts after its delay and stops when a session is back', () => {
  const time = fakeTime();
  try {
    const { g, events } = guard(time.now);
    g.down();
    time.tick(499);
    assert.equal(events.comfort, 0);
    time.tick(201);
    assert.ok(events.comfort >= 9 && events.comfort <= 10, `20 ms ticks from 500 ms on (${events.comfort})`);
    const before = events.comfort;
    g.up();
    time.tick(1000);
    assert.equal(events.comfort, before, 'no comfort audio while a session is up');
    g.stop();
  } finally {
    mock.timers.reset();
  }
});

test('flapping sessions share one budget: the fallback still comes', () => {
  const time = fakeTime();
  try {
    const { g, events } = guard(time.now);
    let cycles = 0;
    while (events.spent === 0 && cycles < 10) {
      cycles++;
      g.down();
      time.tick(500); // 500 ms down
      if (events.spent > 0) break;
      g.up();
      time.tick(100); // up for 100 ms, then down again: still on probation
    }
    assert.equal(events.spent, 1);
    assert.equal(cycles, 4, '4 × 500 ms down spends the 2 s budget though no single outage lasted 2 s');
    g.stop();
  } finally {
    mock.timers.reset();
  }
});

test('a session that stays up ends the outage; the next one gets a full budget; the first connect is not counted', () => {
  const time = fakeTime();
  try {
    const { g, events } = guard(time.now);
    g.down(true); // connecting
    time.tick(300);
    g.up();
    time.tick(5000);
    assert.equal(g.active, false);
    assert.equal(g.totalMs(), 0, 'the first connect is not an outage');
    g.down();
    time.tick(1500);
    g.up();
    time.tick(5000);
    g.down();
    time.tick(1900);
    assert.equal(events.spent, 0, 'a new outage after probation starts a fresh budget');
    assert.equal(g.totalMs(), 1500 + 1900);
    time.tick(100);
    assert.equal(events.spent, 1);
    g.stop();
  } finally {
    mock.timers.reset();
  }
});
