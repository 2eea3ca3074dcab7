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

test('an owed reply is overdue only after the timeout; one whose audio arrives in time pays it', () => {
  const w = new ReplyWatch(1000);
  w.owe(0);
  assert.equal(w.owed, true);
  assert.equal(w.overdue(1000), false);
  assert.equal(w.overdue(1001), true);
  w.began(500);
  assert.equal(w.owed, true, 'a created response has given the caller nothing yet');
  w.progress(900, true);
  assert.equal(w.owed, false);
  assert.equal(w.overdue(1800), false);
  w.answered(true, 2000);
  assert.equal(w.overdue(100_000), false);
});

test('a reply that starts and then goes silent is overdue; each sign of it restarts the clock', () => {
  const w = new ReplyWatch(1000);
  w.owe(0);
  w.began(100);
  w.progress(400, false);
  w.progress(800, true);
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
  w.progress(300, true);
  w.callerSpeaking(900);
  assert.equal(w.owed, false);
  assert.equal(w.overdue(10_000), false);
  w.owe(10_000);
  assert.equal(w.overdue(10_999), false);
  assert.equal(w.overdue(11_001), true);
});

test('a response that completes settles the reply, even silent; one that fails before reaching the caller leaves it owed', () => {
  const silent = new ReplyWatch(1000);
  silent.owe(0);
  silent.began(100);
  silent.answered(true, 200);
  assert.equal(silent.owed, false);
  assert.equal(silent.overdue(100_000), false);
  const failed = new ReplyWatch(1000);
  failed.owe(0);
  failed.began(100);
  failed.answered(false, 200);
  assert.equal(failed.owed, true);
  assert.equal(failed.overdue(1200), false, 'owed again from the failure');
  assert.equal(failed.overdue(1201), true);
  const heard = new ReplyWatch(1000);
  heard.began(0);
  heard.progress(50, true);
  heard.answered(false, 100);
  assert.equal(heard.owed, false, 'cut after the caller heard some of it: not asked again');
});

test('response.done settles a running reply but not one owed since it began', () => {
  const w = new ReplyWatch(1000);
  w.progress(0, true);
  w.owe(100); // the caller ended a turn while an older response was still running
  w.answered(true, 150);
  assert.equal(w.owed, true);
  assert.equal(w.overdue(1101), true);
});

test('a new session owes the reply only if it was asked for it, from its start', () => {
  const asked = new ReplyWatch(1000);
  asked.owe(0);
  asked.callerSpeaking(700);
  asked.sessionChanged(5000, true);
  assert.equal(asked.owed, true);
  assert.equal(asked.overdue(6000), false, 'the new session gets the whole timeout');
  assert.equal(asked.overdue(6001), true, 'and its VAD, not the old one, decides whether the caller still speaks');
  const running = new ReplyWatch(1000);
  running.progress(0, true);
  running.sessionChanged(500, false);
  assert.equal(running.owed, false);
  assert.equal(running.overdue(100_000), false);
});

test('misses count in a row until a reply reaches the caller; a created response alone does not end the run', () => {
  const w = new ReplyWatch(1000);
  assert.equal(w.missed(), 1);
  w.began(0);
  w.progress(10, false);
  assert.equal(w.missed(), 2);
  w.progress(20, true);
  assert.equal(w.missed(), 1);
});

test('a timeout of 0 turns the watch off, and a failed response then settles the turn', () => {
  const w = new ReplyWatch(0);
  w.owe(0);
  assert.equal(w.overdue(1e9), false);
  w.began(10);
  w.answered(false, 20);
  assert.equal(w.owed, false, 'nothing would collect it: it must not hold back rollover or a hang-up for good');
});

test('a reply is cut short while it has reached the caller and its audio is still coming', () => {
  const w = new ReplyWatch(1000);
  w.owe(0);
  w.began(10);
  assert.equal(w.cutShort, false, 'nothing reached the caller yet: the reply is owed, not cut');
  w.progress(20, true);
  assert.equal(w.cutShort, true);
  w.progress(30, false);
  assert.equal(w.cutShort, true, 'words alone are not the end of the audio');
  w.spoken();
  assert.equal(w.cutShort, false, 'all its audio arrived: losing the session now cuts nothing');
  w.progress(40, true);
  assert.equal(w.cutShort, true, 'a second audio item of the same response');
  w.answered(true, 50);
  assert.equal(w.cutShort, false);
  w.began(60);
  w.progress(70, true);
  w.callerSpeaking(80);
  assert.equal(w.cutShort, false, 'talked over: the caller ended it');
  w.began(90);
  w.progress(100, true);
  w.sessionChanged(110, false);
  assert.equal(w.cutShort, false);
  w.spoken();
  assert.equal(w.cutShort, false, 'spoken outside a reply means nothing');
});
