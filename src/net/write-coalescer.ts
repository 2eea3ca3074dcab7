// Owns the process-wide "flush before sleeping" of outgoing socket writes, as
// event-loop servers such as Redis do: every message written while the loop
// handles one batch of ready events is held in its socket (corked), and all
// held sockets are flushed together once the batch is done, in the same loop
// turn (setImmediate runs right after the poll phase, and a pending immediate
// keeps the poll from blocking). A tick's media frame and its mark still leave
// in one write, as before, and a socket still gets at most one write per turn.
// What is saved is the peer's wake-ups: a burst of writes to peers on the same
// host (a sidecar proxy, a local AI server, the load generator) wakes each
// peer once per burst instead of once per message, and on a VM each wake-up is
// an inter-processor interrupt. The price is that a message waits for the
// rest of its batch to be handled: microseconds at normal load.
import type { Socket } from 'node:net';

// Captured at load so that tests which mock the global timers cannot stall real sockets.
const afterPoll = globalThis.setImmediate;
// Reused every turn (a Set would regrow its table each turn: garbage on the hot path).
const held: (Socket | undefined)[] = [];
let heldCount = 0;
let flushScheduled = false;

function flushAll(): void {
  flushScheduled = false;
  const n = heldCount;
  heldCount = 0;
  for (let i = 0; i < n; i++) {
    // uncork() on a destroyed socket is a no-op, and end() uncorks by itself.
    held[i]!.uncork();
    held[i] = undefined;
  }
}

/** Holds `socket`'s writes until the loop has handled its current batch of events. Call before writing. */
export function holdUntilBatchEnds(socket: Socket | undefined): void {
  // Corked means held already this turn (nothing else keeps a socket corked across a turn: ws corks and
  // uncorks within one send), so one socket is listed once however many messages it takes.
  if (socket === undefined || socket.writableCorked > 0) return;
  socket.cork();
  held[heldCount++] = socket;
  if (!flushScheduled) {
    flushScheduled = true;
    afterPoll(flushAll);
  }
}
