// Owns the caps on TCP connections that do not carry an authenticated media
// stream (webhook requests, upgrades being checked, idle or hostile sockets):
// in total and per IP. Accepted streams are exempt: many calls legitimately
// arrive from the same Twilio addresses. Pure bookkeeping.

export interface ConnectionLimits {
  readonly maxUnauthenticated: number;
  readonly maxUnauthenticatedPerIp: number;
}

export class ConnectionGate {
  #total = 0;
  readonly #perIp = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /**
   * Takes a slot for a new connection from `ip`; false when a cap is reached. A trusted proxy's connections carry
   * many clients: only the total cap applies to them (`perIpCap` false).
   */
  enter(ip: string, perIpCap = true): boolean {
    const mine = this.#perIp.get(ip) ?? 0;
    if (this.#total >= this.limits.maxUnauthenticated || (perIpCap && mine >= this.limits.maxUnauthenticatedPerIp)) return false;
    this.#total++;
    this.#perIp.set(ip, mine + 1);
    return true;
  }

  /** The connection closed, or became an authenticated stream. */
  leave(ip: string): void {
    const mine = this.#perIp.get(ip);
    if (mine === undefined) return;
    this.#total--;
    if (mine <= 1) this.#perIp.delete(ip);
    else this.#perIp.set(ip, mine - 1);
  }

  get total(): number {
    return this.#total;
  }
}
