// The answer clock (src/call/reply-watch.ts), as pure logic: when a reply is
// owed, what pauses and what pays the wait, and when it is overdue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyWatch } from '../src/call/reply-watch.js';

test('nothing owed is never overdue', () => {
  const w = new ReplyWatch(1000);
  assert.equal(w.owed, false);
  assert.equal(w.overdue(1_000_000), false);
});

test('an owed reply is overdue only after the timeout; one that begins in time pays it', () => {
  const w = new ReplyWatch(1000);
  w.owe(0);
  assert.equal(w.owed, true);
  assert.equal(w.overdue(1000), false);
  assert.equal(w.overdue(1001), true);
  w.progress(900);
  assert.equal(w.owed, false);
  assert.equal(w.overdue(1800), false);
  w.answered();
  assert.equal(w.overdue(100_000), false);
});

test('a reply that starts and then goes silent is overdue; each sign of it restarts the clock', () => {
  const w = new ReplyWatch(1000);
  w.owe(0);
  w.progress(100);
  w.progress(800);
  assert.equal(w.overdue(1800), false);
  assert.equal(w.overdue(1801), true);
});

test('the caller speaking again pauses the wait but does not pay it; owing again does not restart it', () => {
  const w = new ReplyWatch(1000);
  w.owe(0);
  w.callerSpeaking(600); // waited 600
  assert.equal(w.owed, true);
  assert.equal(w.overdue(50_000), false, 'no reply is expected while the caller speaks');
  w.owe(5000); // resumes with 600 waited
  assert.equal(w.overdue(5400), false);
  assert.equal(w.overdue(5401), true);
  w.owe(5401); // a second owe while waiting changes nothing
  assert.equal(w.overdue(5401), true);
});

test('talking over a reply in progress (barge-in) settles it; the next turn owes a fresh reply', () => {
  const w = new ReplyWatch(1000);
  w.owe(0);
  w.progress(300);
  w.callerSpeaking(900);
  assert.equal(w.owed, false);
  assert.equal(w.overdue(10_000), false);
  w.owe(10_000);
  assert.equal(w.overdue(10_999), false);
  assert.equal(w.overdue(11_001), true);
});

test('response.done settles a running reply but not one owed since it began', () => {
  const w = new ReplyWatch(1000);
  w.progress(0);
  w.owe(100); // the caller ended a turn while an older response was still running
  w.answered();
  assert.equal(w.owed, true);
  assert.equal(w.overdue(1101), true);
});

test('a new session owes the owed reply from its start; a reply cut by the switch is not owed again', () => {
  const owed = new ReplyWatch(1000);
  owed.owe(0);
  owed.callerSpeaking(700);
  owed.sessionChanged(5000);
  assert.equal(owed.owed, true);
  assert.equal(owed.overdue(6000), false, 'the new session gets the whole timeout');
  assert.equal(owed.overdue(6001), true, 'and its VAD, not the old one, decides whether the caller still speaks');
  const running = new ReplyWatch(1000);
  running.progress(0);
  running.sessionChanged(500);
  assert.equal(running.owed, false);
  assert.equal(running.overdue(100_000), false);
});

test('misses count in a row until a reply shows up', () => {
  const w = new ReplyWatch(1000);
  assert.equal(w.missed(), 1);
  assert.equal(w.missed(), 2);
  w.progress(0);
  assert.equal(w.missed(), 1);
});
