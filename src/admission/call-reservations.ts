// Owns the calls admitted at the webhook whose media stream has not opened
// yet. Admission counts them with the live calls: without them, a burst of
// webhooks arriving together would all see the same live count and all be
// given a stream, past MAX_CALLS. A reservation ends when its stream opens
// or when its ticket can no longer be used, whichever comes first. Pure: the
// clock is passed in.

export class CallReservations {
  /** CallSid → when its ticket expires. Bounded: admission stops reserving at MAX_CALLS. */
  readonly #until = new Map<string, number>();

  constructor(private readonly ttlMs: number) {}

  /** A ticket was issued for this call; a repeated webhook for it replaces its reservation. */
  reserve(callSid: string, now: number): void {
    this.#until.delete(callSid);
    this.#until.set(callSid, now + this.ttlMs);
  }

  /** The call's stream opened (it is now a live call), or it will never open. */
  release(callSid: string): void {
    this.#until.delete(callSid);
  }

  /** Reservations whose tickets can still be used. */
  pending(now: number): number {
    // Insertion order is expiry order (one TTL for all), so the expired ones are at the front.
    for (const [callSid, until] of this.#until) {
      if (until > now) break;
      this.#until.delete(callSid);
    }
    return this.#until.size;
  }
}
