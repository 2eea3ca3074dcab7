// Owns the process's recent event-loop delay: p99 over a sliding window of a
// few seconds, from Node's own histogram. Admission control reads it to
// turn new calls away before every live call degrades.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export class LoopDelayWindow {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  /** p99 of the last completed half-window. */
  #p99Ms = 0;

  constructor(windowMs = 5000) {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    // Half-windows: the reported figure covers the last completed one and the one under way.
    this.#timer = setInterval(() => {
      this.#p99Ms = this.#histogram.percentile(99) / 1e6;
      this.#histogram.reset();
    }, windowMs / 2);
    this.#timer.unref();
  }

  /** p99 event-loop delay over the last window, in ms. */
  get p99Ms(): number {
    const current = this.#histogram.count > 0 ? this.#histogram.percentile(99) / 1e6 : 0;
    return Math.max(current, this.#p99Ms);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}
