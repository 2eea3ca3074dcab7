// Owns per-IP counting of authentication failures (webhook signature,
// upgrade signature, ticket). Past the limit within a minute, an IP is
// refused outright for a cool-down window, which failures while blocked
// extend. Memory is bounded: at most `maxTrackedIps` addresses are
// remembered, the stalest unblocked one forgotten first (so a flood of new
// addresses cannot lift a block). Pure: the clock is passed in.

export interface AuthFailureLimits {
  /** Failures within `windowMs` that get an IP blocked. */
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly maxTrackedIps: number;
}

export const DEFAULT_AUTH_FAILURE_LIMITS: AuthFailureLimits = Object.freeze({
  maxFailures: 50,
  windowMs: 60_000,
  cooldownMs: 5 * 60_000,
  maxTrackedIps: 10_000,
});

interface Tracker {
  /** Start of the current window. */
  windowStart: number;
  count: number;
  blockedUntil: number;
}

export class AuthFailureLimiter {
  // Map iteration order is insertion order: re-inserting on use makes the first entry the stalest.
  readonly #ips = new Map<string, Tracker>();

  constructor(private readonly limits: AuthFailureLimits = DEFAULT_AUTH_FAILURE_LIMITS) {}

  /** Records a failure; returns true if this failure got the IP blocked. */
  recordFailure(ip: string, now: number): boolean {
    let t = this.#ips.get(ip);
    if (t === undefined) {
      t = { windowStart: now, count: 0, blockedUntil: 0 };
      if (this.#ips.size >= this.limits.maxTrackedIps) this.#forgetOne(now);
    } else {
      this.#ips.delete(ip);
    }
    this.#ips.set(ip, t);
    if (now - t.windowStart >= this.limits.windowMs) {
      t.windowStart = now;
      t.count = 0;
    }
    t.count++;
    // A blocked address that keeps failing stays blocked: the cool-down runs from its last failure.
    if (t.blockedUntil > now) {
      t.blockedUntil = now + this.limits.cooldownMs;
      return false;
    }
    if (t.count > this.limits.maxFailures) {
      t.blockedUntil = now + this.limits.cooldownMs;
      return true;
    }
    return false;
  }

  #forgetOne(now: number): void {
    for (const [key, t] of this.#ips) {
      if (t.blockedUntil <= now) {
        this.#ips.delete(key);
        return;
      }
    }
    // Every address remembered is blocked: the stalest goes.
    this.#ips.delete(this.#ips.keys().next().value!);
  }

  isBlocked(ip: string, now: number): boolean {
    const t = this.#ips.get(ip);
    return t !== undefined && t.blockedUntil > now;
  }

  get trackedIps(): number {
    return this.#ips.size;
  }
}
