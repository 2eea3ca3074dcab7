// Owns the process's recent event-loop delay: p99 over a sliding window of a
// few seconds, from Node's own histogram. Admission control reads it to
// turn new calls away before every live call degrades.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export class LoopDelayWindow {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #p99Ms = 0;
  #previousP99Ms = 0;

  constructor(windowMs = 5000) {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    // Two half-windows: the reported figure always covers between one and two of them.
    this.#timer = setInterval(() => {
      this.#previousP99Ms = this.#p99Ms = this.#histogram.percentile(99) / 1e6;
      this.#histogram.reset();
    }, windowMs / 2);
    this.#timer.unref();
  }

  /** p99 event-loop delay over the last window, in ms. */
  get p99Ms(): number {
    const current = this.#histogram.count > 0 ? this.#histogram.percentile(99) / 1e6 : 0;
    return Math.max(current, this.#previousP99Ms, this.#p99Ms);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}
