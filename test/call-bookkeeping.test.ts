import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MarkLedger } from '../src/call/mark-ledger.js';
import { FRAME_BYTES, OutboundPacer } from '../src/call/outbound-pacer.js';
import { InboundTimeline } from '../src/call/inbound-timeline.js';

test('heard time comes from acknowledged marks, not from audio sent', () => {
  const ledger = new MarkLedger();
  ledger.recordSent('item1', 60);
  const m1 = ledger.placeMark()!;
  ledger.recordSent('item1', 60);
  const m2 = ledger.placeMark()!;
  assert.equal(ledger.heardMs('item1'), 0, 'nothing heard before any ack');
  assert.ok(ledger.acknowledge(m1));
  assert.equal(ledger.heardMs('item1'), 60);
  const cut = ledger.clear();
  assert.deepEqual(cut, [{ itemId: 'item1', heardMs: 60, sentMs: 120 }]);
  assert.equal(ledger.acknowledge(m2), false, 'a mark echoed after clear is ignored');
  assert.equal(ledger.heardMs('item1'), 60);
});

test('an ack implies every earlier mark played; unknown marks are ignored', () => {
  const ledger = new MarkLedger();
  const names = [20, 20, 20].map((ms) => {
    ledger.recordSent('a', ms);
    return ledger.placeMark()!;
  });
  assert.ok(ledger.acknowledge(names[2]!));
  assert.equal(ledger.heardMs('a'), 60);
  assert.equal(ledger.hasUnplayedAudio, false);
  assert.equal(ledger.acknowledge('someone-else'), false);
  assert.deepEqual(ledger.clear(), [], 'nothing playing: nothing to truncate');
});

test('a new item resets heard time; marks are not duplicated without new audio', () => {
  const ledger = new MarkLedger();
  ledger.recordSent('a', 40);
  assert.ok(ledger.acknowledge(ledger.placeMark()!));
  assert.equal(ledger.placeMark(), undefined);
  ledger.recordSent('b', 20);
  assert.equal(ledger.heardMs('b'), 0);
  assert.equal(ledger.heardMs('a'), 0, 'all of a had played: only b is tracked now');
  assert.match(ledger.placeMark()!, /^g0\.\d+$/);
});

test('an item still playing when the next one starts is tracked until its marks return, and both are cut by a clear', () => {
  const ledger = new MarkLedger();
  ledger.recordSent('a', 60);
  const a1 = ledger.placeMark()!;
  ledger.recordSent('a', 40);
  const a2 = ledger.placeMark()!;
  ledger.recordSent('b', 60);
  assert.equal(ledger.currentItemId, 'b');
  assert.equal(ledger.unmarkedMs, 60, "b's own unmarked audio, not a's");
  ledger.acknowledge(a1);
  assert.equal(ledger.heardMs('a'), 60, "a's echo still counts after b started");
  assert.equal(ledger.sentMs('a'), 100);
  assert.deepEqual(
    ledger.clear(),
    [
      { itemId: 'a', heardMs: 60, sentMs: 100 },
      { itemId: 'b', heardMs: 0, sentMs: 60 },
    ],
    'the caller was 40 ms from the end of a and had heard none of b',
  );
  assert.equal(ledger.acknowledge(a2), false, 'echoed after the clear: ignored');
  assert.equal(ledger.hasUnplayedAudio, false);
});

test('an earlier item is forgotten once all of it has played; the next clear reports only the current one', () => {
  const ledger = new MarkLedger();
  ledger.recordSent('a', 60);
  const a1 = ledger.placeMark()!;
  ledger.recordSent('b', 20);
  const b1 = ledger.placeMark()!;
  ledger.acknowledge(a1);
  assert.equal(ledger.heardMs('a'), 0, 'all of a played: a is no longer tracked');
  ledger.recordSent('b', 20);
  assert.deepEqual(ledger.clear(), [{ itemId: 'b', heardMs: 0, sentMs: 40 }]);
  assert.equal(ledger.acknowledge(b1), false);
});

test('many marks outstanding at once (a slow echo): each ack and each overdue mark still settles exactly what played', () => {
  const ledger = new MarkLedger();
  const place = (ms: number, now: number): string => {
    ledger.recordSent('a', ms);
    return ledger.placeMark(now)!;
  };
  const early = [1, 2, 3, 4, 5].map((i) => place(20, i));
  assert.ok(ledger.acknowledge(early[2]!));
  assert.equal(ledger.heardMs('a'), 60);
  // Far more marks outstanding than the lead ever holds, placed after some were settled.
  const late = Array.from({ length: 30 }, (_, i) => place(20, 100 + i));
  assert.equal(ledger.acknowledge(early[1]!), false, 'an echo already settled by a later one is not ours any more');
  assert.ok(ledger.acknowledge(early[4]!));
  assert.equal(ledger.heardMs('a'), 100);
  assert.ok(ledger.acknowledge(late[9]!));
  assert.equal(ledger.heardMs('a'), 100 + 10 * 20);
  // Marks placed at 110..119 are overdue at 1120 with a 1000 ms bound; 120 and later are not.
  ledger.expireOverdue(1120, 1000);
  assert.equal(ledger.heardMs('a'), 100 + 20 * 20);
  assert.ok(ledger.acknowledge(late[29]!));
  assert.equal(ledger.heardMs('a'), 100 + 30 * 20);
  assert.equal(ledger.hasUnplayedAudio, false);
  // Names of this generation that it never placed are not its own.
  assert.equal(ledger.acknowledge(`g${ledger.generation}.${Number.MAX_SAFE_INTEGER}`), false);
  assert.equal(ledger.acknowledge(`g${ledger.generation}.`), false);
  assert.equal(ledger.acknowledge(`g${ledger.generation}.1x`), false);
});

test("an echo of the next item's mark settles the earlier item's marks too", () => {
  const ledger = new MarkLedger();
  ledger.recordSent('a', 60);
  ledger.placeMark();
  ledger.recordSent('a', 40);
  ledger.placeMark();
  ledger.recordSent('a', 20); // no mark of its own: the tail of a is still waiting when b starts
  ledger.recordSent('b', 60);
  assert.ok(ledger.acknowledge(ledger.placeMark()!));
  assert.deepEqual(ledger.clear(), [{ itemId: 'a', heardMs: 100, sentMs: 120 }]);
});

test('the pacer keeps the lead under its bound and tops it up a 60 ms message at a time', () => {
  const pacer = new OutboundPacer(200);
  pacer.enqueue('a', new Uint8Array(8000)); // 1 s, faster than real time, as the service streams replies
  let now = 1000;
  const sizes: number[] = [];
  for (let c = pacer.next(now); c; c = pacer.next(now)) sizes.push(c.ms);
  assert.deepEqual(sizes, [60, 60, 60], 'the lead fills in 60 ms messages while a whole one fits');
  assert.equal(pacer.leadMs(now), 180);
  assert.equal(pacer.heldForMs(now), 40, 'the next message waits until a whole one fits again');
  now += 20;
  assert.equal(pacer.next(now), undefined, 'no frame-by-frame top-up');
  now += 20;
  // Down to the refill point: ready at once. (It once said "nothing to wait for" here, and a call whose tick read
  // the clock a millisecond before its reschedule stopped sending for good.)
  assert.equal(pacer.heldForMs(now), 0);
  assert.equal(pacer.next(now)?.ms, 60);
  assert.equal(pacer.next(now), undefined);
  assert.equal(pacer.leadMs(now), 200, 'the lead never exceeds its bound');
  pacer.clear(now);
  assert.equal(pacer.queuedMs, 0);
  assert.equal(pacer.leadMs(now), 0);
  assert.equal(pacer.heldForMs(now), undefined, 'nothing queued, nothing to wake for');
  pacer.enqueue('b', new Uint8Array(100));
  assert.equal(pacer.heldForMs(now), undefined, 'part of a frame waits for the rest of its item, which comes with a delta');
});

test('audio arriving at real time goes out as it comes, a frame at a time', () => {
  const pacer = new OutboundPacer(200);
  for (let now = 0; now < 200; now += 20) {
    pacer.enqueue('a', new Uint8Array(FRAME_BYTES));
    assert.equal(pacer.next(now)?.ms, 20, `the frame at ${now} ms waits for nothing`);
    assert.equal(pacer.next(now), undefined);
  }
});

test('a small lead bound is kept: one frame per message, and the line holds at least half the lead', () => {
  const pacer = new OutboundPacer(40);
  pacer.enqueue('a', new Uint8Array(1600));
  const sizes: number[] = [];
  for (let c = pacer.next(0); c; c = pacer.next(0)) sizes.push(c.ms);
  assert.deepEqual(sizes, [20, 20]);
  assert.equal(pacer.heldForMs(0), 20);
  const wide = new OutboundPacer(2000);
  wide.enqueue('a', new Uint8Array(8000));
  assert.equal(wide.next(0)?.ms, 60, 'a message never carries more than one mark cadence (60 ms)');
});

test('messages span delta boundaries, never mix items, and a finished item flushes its tail', () => {
  const pacer = new OutboundPacer(10_000);
  pacer.enqueue('a', new Uint8Array(100).fill(1));
  pacer.enqueue('a', new Uint8Array(100).fill(2));
  const f1 = pacer.next(0)!;
  assert.equal(f1.bytes.length, FRAME_BYTES);
  assert.equal(f1.bytes[99], 1);
  assert.equal(f1.bytes[100], 2);
  assert.equal(pacer.next(0), undefined, '40 bytes wait for more audio of the same item');
  pacer.enqueue('b', new Uint8Array(160).fill(3));
  const tail = pacer.next(0)!;
  assert.deepEqual([tail.itemId, tail.bytes.length, tail.ms], ['a', 40, 5]);
  const b = pacer.next(0)!;
  assert.deepEqual([b.itemId, b.bytes.length], ['b', 160]);
  pacer.enqueue('c', new Uint8Array(10));
  assert.equal(pacer.next(0), undefined);
  pacer.endItem('c');
  assert.equal(pacer.next(0)!.bytes.length, 10);
});

/** A repeatable pseudo-random integer below `n` (a linear congruential generator): failures replay exactly. */
function seededRandom(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state % n;
  };
}

test('the pacer hands back every byte it was given, in order and item by item, across ring wraps and growth', () => {
  // A reference model: the bytes of each item, in the order they were queued. Deltas of random sizes arrive slower
  // than real time, with bursts of large ones (up to 750 ms: the ring grows), so the queue fills and drains and its
  // head wraps round the ring's end. The caller reuses its buffer at once.
  const random = seededRandom(0x2545_f491);
  const pacer = new OutboundPacer(200);
  const given = new Map<string, number[]>();
  const got = new Map<string, number[]>();
  const scratch = new Uint8Array(6000);
  let value = 0;
  let item = 0;
  let now = 0;
  for (let step = 0; step < 3000; step++) {
    if (random(3) === 0) {
      const itemId = `item${item}`;
      const bytes = scratch.subarray(0, 1 + random(step % 400 < 40 ? 6000 : 1300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = value++ & 0xff;
      pacer.enqueue(itemId, bytes);
      given.set(itemId, [...(given.get(itemId) ?? []), ...bytes]);
      if (random(4) === 0) pacer.endItem(`item${item++}`);
    }
    now += random(60);
    for (let c = pacer.next(now); c; c = pacer.next(now)) {
      assert.ok(c.bytes.length <= 480 && c.bytes.length > 0);
      got.set(c.itemId, [...(got.get(c.itemId) ?? []), ...c.bytes]);
    }
  }
  pacer.endItem(`item${item}`);
  for (now += 1000; pacer.queuedMs > 0; now += 1000) for (let c = pacer.next(now); c; c = pacer.next(now)) got.set(c.itemId, [...(got.get(c.itemId) ?? []), ...c.bytes]);
  assert.ok(item > 100, 'many items went through');
  assert.deepEqual([...got.keys()], [...given.keys()], 'every item, in order');
  for (const [itemId, bytes] of given) assert.deepEqual(got.get(itemId), bytes, `${itemId}: its bytes, unchanged`);
});

test('clears and drops of the oldest audio, wherever the ring has wrapped, leave exactly the model queue', () => {
  // A byte-by-byte model of the queue: every message must be the model's head, one item's bytes, and a drop must
  // take whole frames from the head and leave the newest frame. Clears and drops land at random ring positions.
  const random = seededRandom(0x1b87_3593);
  const pacer = new OutboundPacer(200);
  const model: { itemId: string; byte: number }[] = [];
  let modelHead = 0;
  const scratch = new Uint8Array(4000);
  let value = 0;
  let item = 0;
  let now = 0;
  let drops = 0;
  let clears = 0;
  for (let step = 0; step < 4000; step++) {
    const roll = random(10);
    if (roll < 4) {
      const bytes = scratch.subarray(0, 1 + random(step % 500 < 50 ? 4000 : 1300));
      for (let i = 0; i < bytes.length; i++) bytes[i] = value++ & 0xff;
      pacer.enqueue(`item${item}`, bytes);
      for (const byte of bytes) model.push({ itemId: `item${item}`, byte });
      if (random(3) === 0) pacer.endItem(`item${item++}`);
    } else if (roll === 4) {
      const queued = model.length - modelHead;
      const ms = random(400);
      const expected = Math.min(Math.ceil((ms * 8) / FRAME_BYTES) * FRAME_BYTES, Math.max(0, queued - FRAME_BYTES));
      if (expected > 0) drops++;
      assert.equal(pacer.dropOldest(ms), expected / 8, `step ${step}: drop of ${ms} ms from ${queued} bytes`);
      modelHead += expected;
    } else if (roll === 5 && random(4) === 0) {
      if (model.length - modelHead > 0) clears++;
      pacer.clear(now);
      modelHead = model.length;
      item++;
    }
    now += random(60);
    for (let c = pacer.next(now); c; c = pacer.next(now)) {
      assert.ok(c.bytes.length > 0 && c.bytes.length <= 480);
      const expected = model.slice(modelHead, modelHead + c.bytes.length);
      assert.ok(expected.every((entry) => entry.itemId === c.itemId), `step ${step}: one item per message`);
      assert.deepEqual([...c.bytes], expected.map((entry) => entry.byte), `step ${step}: the model's head`);
      modelHead += c.bytes.length;
    }
    assert.equal(pacer.queuedMs, (model.length - modelHead) / 8, `step ${step}: queued`);
    if (modelHead > 100_000) {
      model.splice(0, modelHead);
      modelHead = 0;
    }
  }
  assert.ok(drops > 50 && clears > 20, `drops and clears with audio queued (${drops}, ${clears})`);
});

test('dropping the oldest audio keeps the newest frame and the item boundaries', () => {
  const pacer = new OutboundPacer(200);
  pacer.enqueue('a', new Uint8Array(1600).fill(1));
  pacer.enqueue('b', new Uint8Array(800).fill(2));
  assert.deepEqual(pacer.queuedItemIds, ['a', 'b']);
  assert.equal(pacer.dropOldest(200), 200, 'whole frames: all of a');
  assert.deepEqual(pacer.queuedItemIds, ['b']);
  assert.equal(pacer.dropOldest(10), 20, 'rounded up to a frame');
  assert.equal(pacer.dropOldest(1000), 60, 'the newest frame stays');
  assert.equal(pacer.queuedMs, 20);
  const last = pacer.next(0)!;
  assert.deepEqual([last.itemId, last.bytes.length, last.bytes[0]], ['b', 160, 2]);
});

test('the inbound timeline fills dropped-packet gaps and drops stale frames', () => {
  const t = new InboundTimeline();
  assert.deepEqual(t.accept(0, 160, 0), { kind: 'in_order', fillMs: 0 });
  assert.deepEqual(t.accept(20, 160, 20), { kind: 'in_order', fillMs: 0 });
  assert.deepEqual(new InboundTimeline().accept(60, 160, 60), { kind: 'in_order', fillMs: 60 }, 'timestamps count from stream start');
  assert.deepEqual(t.accept(45, 160, 45), { kind: 'in_order', fillMs: 0 }, '5 ms of jitter is not a gap');
  assert.deepEqual(t.accept(165, 160, 165), { kind: 'in_order', fillMs: 100 });
  assert.deepEqual(t.accept(100, 160, 100), { kind: 'stale' });
  assert.deepEqual(t.accept(60_000, 160, 60_000), { kind: 'in_order', fillMs: 10_000 }, 'fills are bounded');
});

test('the inbound timeline never fills silence further ahead of the wall clock than a second', () => {
  const t = new InboundTimeline();
  assert.deepEqual(t.accept(0, 160, 5000), { kind: 'in_order', fillMs: 0 });
  // Packets really dropped: two seconds of stream time took two seconds of wall time.
  assert.deepEqual(t.accept(2020, 160, 7020), { kind: 'in_order', fillMs: 2000 });
  // A broken stream jumps ten seconds 20 ms later: only the second of slack is filled, and only once.
  assert.deepEqual(t.accept(12_040, 160, 7040), { kind: 'in_order', fillMs: 1000 });
  assert.deepEqual(t.accept(22_060, 160, 7060), { kind: 'in_order', fillMs: 0 });
});

test('trailing silence is filled by time; a late real frame inside filled time is kept, a true duplicate is not', () => {
  const t = new InboundTimeline();
  t.accept(0, 160, 0);
  assert.equal(t.fillTo(15), 0, 'less than a frame missing');
  assert.equal(t.fillTo(500), 480);
  assert.equal(t.fillTo(500), 0, 'nothing twice');
  assert.deepEqual(t.accept(400, 160, 400), { kind: 'in_order', fillMs: 0 }, 'late voice inside filled time is kept');
  assert.deepEqual(t.accept(400, 160, 400), { kind: 'stale' }, 'the same frame again is stale');
  assert.deepEqual(t.accept(600, 160, 600), { kind: 'in_order', fillMs: 100 });
});

test('a mark whose echo never comes is taken as played once far overdue', () => {
  const ledger = new MarkLedger();
  ledger.recordSent('a', 40);
  ledger.placeMark(1000);
  ledger.recordSent('a', 40);
  ledger.placeMark(1100);
  ledger.expireOverdue(5000, 5000);
  assert.equal(ledger.hasUnplayedAudio, true, 'not yet overdue');
  ledger.expireOverdue(6050, 5000);
  assert.equal(ledger.heardMs('a'), 40, 'the overdue mark counts as heard');
  assert.equal(ledger.hasUnplayedAudio, true, 'the later one is still pending');
  ledger.expireOverdue(6200, 5000);
  assert.equal(ledger.hasUnplayedAudio, false);
});

/**
 * A μ-law caller-audio path whose upstream takes events while `upstream.accepting` and records them; frames are
 * filled with one byte value, so what was delivered reads back as those values.
 */
async function recordedCallerPath(maxWaitingMs?: number) {
  const { CallerAudioPath } = await import('../src/call/caller-audio.js');
  const upstream = { accepting: true, delivered: [] as string[] };
  const path = new CallerAudioPath('pcmu', (event) => (upstream.accepting ? (upstream.delivered.push(event), true) : false), maxWaitingMs);
  const frame = (value: number) => Buffer.alloc(160, value).toString('base64');
  const deliveredValues = () => upstream.delivered.map((e) => Buffer.from(JSON.parse(e).audio, 'base64')[0]!);
  return { path, upstream, frame, deliveredValues };
}

test('a short upstream backpressure blip delays caller audio but never mutes the caller', async () => {
  const { path, upstream, frame, deliveredValues } = await recordedCallerPath();
  for (let i = 0; i < 5; i++) path.push(i * 20, frame(i), i * 20);
  upstream.accepting = false;
  for (let i = 5; i < 10; i++) path.push(i * 20, frame(i), i * 20);
  assert.equal(upstream.delivered.length, 5);
  upstream.accepting = true;
  for (let i = 10; i < 15; i++) path.push(i * 20, frame(i), i * 20);
  assert.equal(upstream.delivered.length, 15, 'everything delivered once the upstream drains');
  assert.deepEqual(deliveredValues(), Array.from({ length: 15 }, (_, i) => i), 'in order');
});

test('unanswered turns resent to a new session survive the waiting bound: newer audio is dropped first', async () => {
  // A 1 s bound on audio waiting for the upstream.
  const { path, upstream, frame, deliveredValues } = await recordedCallerPath(1000);
  let t = 0;
  const push = (value: number, frames: number) => {
    for (let i = 0; i < frames; i++, t += 20) path.push(t, frame(value), t);
  };
  // The question (0x11, 1.2 s) is committed; no reply comes and the session is replaced.
  path.speechStarted();
  push(0x11, 60);
  path.committed('u1');
  upstream.accepting = false;
  path.resendUncommitted(['u1']);
  // The new session is slow to drain while 2 s more of the caller's line arrives: over the 1 s bound.
  push(0x22, 100);
  upstream.accepting = true;
  upstream.delivered.length = 0;
  path.flush();
  const values = deliveredValues();
  assert.equal(values.filter((v) => v === 0x11).length, 60, 'the whole question reaches the new session');
  assert.equal(values.indexOf(0x11), 0, 'first');
  assert.ok(path.stats.droppedWhileWaitingMs > 0, 'newer audio was dropped for the bound, and counted');
});

test('the μ-law ring keeps the newest bytes in order, grows on demand, reads by absolute position, and trims', async () => {
  const { MulawRing } = await import('../src/call/mulaw-ring.js');
  const ring = new MulawRing(4, 8);
  ring.write(Uint8Array.of(1, 2, 3));
  ring.write(Uint8Array.of(4, 5));
  assert.deepEqual([...ring.read()], [2, 3, 4, 5], 'capacity 4 keeps the newest');
  assert.deepEqual([ring.start, ring.end], [1, 5], 'positions count every byte written');
  ring.reserve(100);
  ring.write(Uint8Array.of(6, 7, 8, 9, 10));
  assert.deepEqual([...ring.read()], [3, 4, 5, 6, 7, 8, 9, 10], 'grown to its maximum of 8, contents kept');
  assert.deepEqual([...ring.read(4, 7)], [5, 6, 7], 'a range, across the old wrap point');
  assert.deepEqual([...ring.read(0, 3)], [3], 'clamped to what is kept');
  ring.dropBefore(ring.end - 3);
  assert.deepEqual([...ring.read()], [8, 9, 10]);
  ring.write(Uint8Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual([...ring.read()], [12, 13, 14, 15, 16, 17, 18, 19], 'an oversized write keeps its tail');
  assert.deepEqual([ring.start, ring.end], [22, 30]);
  ring.clear();
  assert.equal(ring.length, 0);
});

test('held unanswered turns are read back from the ring, or from a copy made before the ring overwrites them', async () => {
  const { path, upstream, frame, deliveredValues } = await recordedCallerPath();
  let t = 0;
  const push = (value: number, frames: number) => {
    for (let i = 0; i < frames; i++, t += 20) path.push(t, frame(value), t);
  };
  /** What a new session is sent (runs of frame values), given the held turns handed to it (undefined: none owed). */
  const resent = (turnIds?: string[]): string => {
    upstream.accepting = false;
    path.resendUncommitted(turnIds);
    upstream.accepting = true;
    upstream.delivered.length = 0;
    path.flush();
    return deliveredValues().reduce<[number, number][]>((acc, v) => (acc.at(-1)?.[0] === v ? (acc.at(-1)![1]++, acc) : [...acc, [v, 1]]), []).map(([v, n]) => `${v.toString(16)}×${n}`).join(' ');
  };
  // Padding (0xff), a question (0x11, 1 s) and "hello?" (0x22, 0.5 s), both committed; then 0x33, not yet.
  push(0xff, 60);
  path.speechStarted();
  push(0x11, 50);
  path.committed('u1');
  push(0xff, 10);
  path.speechStarted();
  push(0x22, 25);
  path.committed('u2');
  push(0x33, 5);
  assert.deepEqual(path.heldTurnIds, ['u1', 'u2']);
  assert.equal(resent(['u1', 'u2']), 'ff×50 11×50 ff×10 22×25 33×5', 'each turn with its second of padding, then what came after');
  // That session drops before it takes the turns: the next one hears all of it again, not only the last second.
  assert.deepEqual(path.heldTurnIds, []);
  push(0xff, 60);
  assert.equal(resent([]), 'ff×50 11×50 ff×10 22×25 33×5 ff×60');
  // Once a session commits the audio and answers it, a plain reconnect gets the last second only.
  path.committed('n1');
  path.replyHeard();
  push(0xff, 60);
  assert.equal(resent(), 'ff×50');
  // A turn held while the caller talks for 6 s more: the ring (6 s) overwrites it, so it is copied out first.
  path.speechStarted();
  push(0x55, 40);
  path.committed('u3');
  path.speechStarted();
  push(0x66, 300);
  path.committed('u4');
  assert.equal(resent(['u3', 'u4']), 'ff×50 55×40 66×300', 'nothing of u3 lost to the overwrite');
  path.replyHeard();
  // Only the turns handed over go.
  push(0xff, 60);
  path.speechStarted();
  push(0x77, 10);
  path.committed('u5');
  path.speechStarted();
  push(0x88, 10);
  path.committed('u6');
  assert.equal(resent(['u6']), '88×10');
  // An answered turn is forgotten.
  path.speechStarted();
  push(0x99, 10);
  path.committed('u7');
  path.replyHeard();
  assert.deepEqual(path.heldTurnIds, []);
  push(0xaa, 2);
  assert.equal(resent([]), 'aa×2', 'only what is uncommitted');
});

test('audio arriving at real time is marked every 3 frames, and the end of the answer gets its own mark', async () => {
  const { AssistantAudioPath } = await import('../src/call/assistant-audio.js');
  let now = 0;
  const sent: string[] = [];
  const path = new AssistantAudioPath('pcmu', 200, 'MZ' + '0'.repeat(32), { send: (t) => sent.push(t) }, () => now);
  const frame = Buffer.alloc(160, 0x55).toString('base64');
  // 10 frames, one every 20 ms: the pacer's queue is empty after each one.
  for (let i = 0; i < 10; i++) {
    now += 20;
    path.pushDelta('item_a', frame);
  }
  const kinds = () => sent.map((t) => (JSON.parse(t) as { event: string }).event);
  assert.equal(kinds().filter((k) => k === 'media').length, 10);
  assert.equal(kinds().filter((k) => k === 'mark').length, 3, 'a mark after frames 3, 6 and 9, not one per frame');
  path.endItem('item_a');
  assert.deepEqual(kinds().slice(-2), ['media', 'mark'], 'the 10th frame is covered by a mark once the answer ends');
  path.endItem('item_a');
  assert.equal(kinds().filter((k) => k === 'mark').length, 4, 'no second mark for audio already marked');
  path.stop();
});

/** An AssistantAudioPath on a fake clock whose Twilio side records what was sent and can echo marks. */
async function pacedPath(opts: { ready?: () => boolean } = {}) {
  const { AssistantAudioPath } = await import('../src/call/assistant-audio.js');
  const clock = { now: 0 };
  const sent: { event: string; mark?: { name: string } }[] = [];
  const path = new AssistantAudioPath(
    'pcmu',
    200,
    'MZ' + '0'.repeat(32),
    { send: (t) => sent.push(JSON.parse(t) as { event: string; mark?: { name: string } }) },
    () => clock.now,
    opts.ready ?? (() => true),
  );
  const marks = () => sent.filter((m) => m.event === 'mark').map((m) => m.mark!.name);
  /** Twilio plays everything up to and including the newest mark and echoes it. */
  const echoAll = () => {
    for (const name of marks()) path.acknowledgeMark(name);
  };
  const frame = (bytes = 160) => Buffer.alloc(bytes, 0x55).toString('base64');
  /** `count` 20 ms deltas of `itemId`, arriving at real time. */
  const realTime = (itemId: string, count: number) => {
    for (let i = 0; i < count; i++) {
      clock.now += 20;
      path.pushDelta(itemId, frame());
    }
  };
  return { path, clock, sent, marks, echoAll, frame, realTime };
}

test('frames sent after the last mark still count as playing, and a barge-in then truncates at what was heard', async () => {
  const { path, marks, echoAll, realTime } = await pacedPath();
  realTime('item_a', 5);
  assert.equal(marks().length, 1, 'one mark after frame 3; frames 4 and 5 have none yet');
  echoAll();
  assert.equal(path.isPlaying, true, 'frames 4 and 5 have not been acknowledged');
  const interruption = path.interrupt();
  assert.deepEqual(interruption, [{ itemId: 'item_a', heardMs: 60, sentMs: 100 }]);
  assert.equal(path.isPlaying, false, 'after the clear nothing plays');
  path.stop();
});

test('the answer gets its last mark even when Twilio is backed up at the moment it ends', async () => {
  let ready = true;
  const { path, marks, echoAll, realTime } = await pacedPath({ ready: () => ready });
  realTime('item_a', 5);
  ready = false;
  path.endItem('item_a');
  assert.equal(marks().length, 2, 'the trailing mark goes out behind the audio it covers');
  echoAll();
  assert.equal(path.isPlaying, false, 'once it is echoed, the whole answer has played');
  path.stop();
});

test('audio that stalls without an end gets a mark at the next upkeep, not while frames keep coming', async () => {
  const { path, clock, marks, realTime } = await pacedPath();
  realTime('item_a', 4);
  clock.now += 20;
  path.tidyMarks();
  assert.equal(marks().length, 1, 'within two frame times the stream may just be arriving at real time');
  clock.now += 30;
  path.tidyMarks();
  assert.equal(marks().length, 2, 'the stalled tail (frame 4) gets its mark');
  path.stop();
});

test('the next answer starting while the last one plays: its tail gets a mark, and a barge-in truncates both where heard', async () => {
  const { path, sent, marks, realTime } = await pacedPath();
  realTime('item_a', 4);
  assert.equal(marks().length, 1, 'after frame 3; frame 4 has none yet');
  // The next answer's audio follows at once, before a's response.done (which would have marked a's tail).
  realTime('item_b', 2);
  assert.deepEqual(
    sent.map((m) => m.event),
    ['media', 'media', 'media', 'mark', 'media', 'mark', 'media', 'media'],
    "a's tail is marked before b's first frame",
  );
  path.acknowledgeMark(marks()[0]!);
  assert.deepEqual(path.interrupt(), [
    { itemId: 'item_a', heardMs: 60, sentMs: 80 },
    { itemId: 'item_b', heardMs: 0, sentMs: 40 },
  ]);
  path.stop();
});

test("a barge-in while the next answer still waits behind the last one reports it as unheard", async () => {
  const { path, clock, marks, frame } = await pacedPath();
  // 400 ms of a at once: the pacer sends 180 ms (60 ms messages, each marked, while a whole one fits its 200 ms
  // lead) and keeps the rest; then b queues behind it.
  clock.now += 20;
  path.pushDelta('item_a', frame(3200));
  path.pushDelta('item_b', frame(800));
  path.acknowledgeMark(marks()[0]!);
  assert.deepEqual(path.interrupt(), [
    { itemId: 'item_a', heardMs: 60, sentMs: 180 },
    { itemId: 'item_b', heardMs: 0, sentMs: 0 },
  ]);
  path.stop();
});

test('a barge-in with a partial frame waiting reports what was heard, not 0 ms', async () => {
  const { path, echoAll, frame, realTime } = await pacedPath();
  realTime('item_a', 3);
  echoAll();
  // 100 bytes (12.5 ms) of the same answer wait for more: not a whole frame, and the item has not ended.
  path.pushDelta('item_a', frame(100));
  assert.equal(path.isPlaying, true);
  assert.deepEqual(path.interrupt(), [{ itemId: 'item_a', heardMs: 60, sentMs: 60 }]);
  path.stop();
});

test('a reply streamed faster than real time goes to Twilio in 60 ms messages, woken by one timer per message', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const { AssistantAudioPath } = await import('../src/call/assistant-audio.js');
  const sent: { event: string; media?: { payload: string } }[] = [];
  const path = new AssistantAudioPath('pcmu', 200, 'MZ' + '0'.repeat(32), { send: (text) => sent.push(JSON.parse(text) as (typeof sent)[number]) }, () => Date.now());
  const start = Date.now();
  // One second of answer in 150 ms deltas, all within 50 ms, as the service bursts them.
  for (let i = 0; i < 7; i++) {
    path.pushDelta('item_a', Buffer.alloc(i < 6 ? 1200 : 800, 0x55).toString('base64'));
    t.mock.timers.tick(7);
  }
  path.endItem('item_a');
  const msOf = (m: (typeof sent)[number]) => Buffer.from(m.media!.payload, 'base64').length / 8;
  const leads: number[] = [];
  for (let elapsed = 49; elapsed <= 1200; elapsed++) {
    t.mock.timers.tick(1);
    const played = sent.filter((m) => m.event === 'media').reduce((ms, m) => ms + msOf(m), 0);
    leads.push(played - (Date.now() - start));
  }
  const media = sent.filter((m) => m.event === 'media');
  assert.equal(media.reduce((ms, m) => ms + msOf(m), 0), 1000, 'all of the answer went out');
  assert.ok(media.every((m) => msOf(m) <= 60), 'no message carries more than 60 ms');
  assert.ok(media.length <= 20, `${media.length} messages, not fifty of 20 ms`);
  assert.ok(Math.max(...leads) <= 200, `the lead stayed within 200 ms (max ${Math.max(...leads)})`);
  assert.ok(Math.min(...leads.slice(0, 800)) >= 120, `the line never ran low while audio waited (min ${Math.min(...leads.slice(0, 800))})`);
  const marks = sent.filter((m) => m.event === 'mark').length;
  assert.ok(marks >= 15 && marks <= media.length, `${marks} marks: about one per 60 ms of audio, as before`);
  path.stop();
});
