// Owns the reconnect schedule and the retry/no-retry decision for realtime
// sessions. The first retry goes out at once; then 250 ms doubling, ±20 %
// jitter, capped at 5 s; a session that came up resets the schedule.
// Failures retrying cannot fix (bad or revoked key, no model access, quota,
// rejected configuration) are fatal and go straight to the call's fallback.
// Pure: randomness is injected.

export interface BackoffSettings {
  readonly firstDelayMs: number;
  readonly baseMs: number;
  readonly capMs: number;
  /** 0.2 means ±20 %. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = Object.freeze({ firstDelayMs: 0, baseMs: 250, capMs: 5000, jitter: 0.2 });

export class ReconnectPolicy {
  #failures = 0;

  constructor(
    private readonly settings: BackoffSettings = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt, counting this failure. */
  nextDelayMs(): number {
    const n = this.#failures++;
    if (n === 0) return this.settings.firstDelayMs;
    const raw = Math.min(this.settings.capMs, this.settings.baseMs * 2 ** (n - 1));
    const jittered = raw * (1 + this.settings.jitter * (2 * this.random() - 1));
    return Math.round(Math.min(this.settings.capMs, jittered));
  }

  /** Attempts made since the last success. */
  get failures(): number {
    return this.#failures;
  }

  reset(): void {
    this.#failures = 0;
  }
}

/** Server error codes that no retry can fix. */
const FATAL_ERROR_CODES = new Set([
  'invalid_api_key',
  'account_deactivated',
  'insufficient_quota',
  'model_not_found',
  'beta_api_shape_disabled',
  'invalid_model',
  'unsupported_model',
]);

/** WebSocket close codes the realtime service uses for failures retrying cannot fix. */
const FATAL_CLOSE_CODES = new Set([3000, 4000]);

export function isFatalErrorCode(code: string): boolean {
  return FATAL_ERROR_CODES.has(code);
}

export function isFatalClose(code: number, reason: string): boolean {
  return FATAL_CLOSE_CODES.has(code) || FATAL_ERROR_CODES.has(reason);
}

/** HTTP statuses on the upgrade that mean the credential or the account is refused. */
export function isFatalUpgradeStatus(status: number): boolean {
  return status === 401 || status === 403 || status === 404;
}
