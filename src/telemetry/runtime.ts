// Owns the process-wide handle to the running telemetry SDK, so the server's
// drain logic can flush and stop it without importing the preload module
// (importing preload.ts would start the SDK late, after the app's modules).
// The handle lives on a global symbol so a second copy of this module (tsx in
// dev, or dist next to src) still finds it. Never starts anything itself.

export interface TelemetryHandle {
  /** Flushes pending spans, metrics and logs, then stops exporters and the Prometheus server. */
  shutdown(): Promise<void>;
  /** The start-up line, for tests and diagnostics. */
  readonly summary: string;
}

const KEY = Symbol.for('twilio-realtime-bridge.telemetry');

type Holder = { [KEY]?: TelemetryHandle };

export function installTelemetryHandle(handle: TelemetryHandle): void {
  (globalThis as Holder)[KEY] = handle;
}

export function telemetryHandle(): TelemetryHandle | undefined {
  return (globalThis as Holder)[KEY];
}

/**
 * Flushes and stops telemetry; resolves (never rejects) within `timeoutMs`.
 * Call it from the SIGTERM drain after the last call has ended. A no-op when
 * the preload did not start the SDK.
 */
export async function shutdownTelemetry(timeoutMs = 5_000): Promise<void> {
  const handle = telemetryHandle();
  if (!handle) return;
  (globalThis as Holder)[KEY] = undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  // An unreachable collector must not hold the process past its drain budget.
  await Promise.race([handle.shutdown().catch(() => undefined), timeout]);
  clearTimeout(timer);
}
