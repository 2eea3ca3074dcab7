// Owns one timer that drives many simulated calls, for load runs: hundreds of
// calls cost one interval instead of one each, and every call sees the same
// clock. Calls must be built with `externalTicks: true`; the ticker adds
// nothing else, so a benchmark can equally drive `tick()` from its own loop.

import type { CallReport } from './report.js';
import type { SimulatedCall } from './simulated-call.js';

export class SharedTicker {
  private readonly calls = new Set<SimulatedCall>();
  private timer: NodeJS.Timeout | undefined;

  /** `periodMs` bounds mark-echo and frame-send jitter; 10–20 ms is Twilio-like. */
  constructor(private readonly periodMs = 20) {}

  get size(): number {
    return this.calls.size;
  }

  /** Places the call and drives it until it ends; resolves (or rejects) as `call.run()` does. */
  run(call: SimulatedCall): Promise<CallReport> {
    if (!call.externalTicks) throw new Error('SharedTicker: build the call with externalTicks: true (it would be ticked twice)');
    this.calls.add(call);
    this.timer ??= setInterval(() => this.tickAll(), this.periodMs);
    const settled = (): void => {
      this.calls.delete(call);
      if (this.calls.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
    const done = call.run();
    done.then(settled, settled);
    return done;
  }

  private tickAll(): void {
    for (const call of this.calls) call.tick();
  }
}
