// Owns the process: load configuration (one clear line and exit 1 on a bad
// value), build the app, listen, and close cleanly on SIGTERM/SIGINT.

import { ConfigError, loadConfig } from './config/config.js';
import { buildApp } from './app.js';
import { shutdownTelemetry } from './telemetry/runtime.js';
import { defaultKernelKind } from './audio/index.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const { app, drain } = await buildApp(config);
  const shutdown = (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    drain()
      // Spans and metrics of the last calls are flushed before the process goes.
      .then(() => shutdownTelemetry())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          app.log.error({ err }, 'drain failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // A stray rejection is a bug to log, not a reason to drop every live call.
  process.on('unhandledRejection', (reason) => app.log.error({ err: reason }, 'unhandled promise rejection'));
  // After an uncaught exception the process may be inconsistent: stop taking calls, let live ones finish, exit 1.
  process.once('uncaughtException', (err) => {
    app.log.fatal({ err }, 'uncaught exception: draining and exiting');
    drain()
      .then(() => shutdownTelemetry())
      .finally(() => process.exit(1));
  });
  await app.listen({ port: config.port, host: config.host });
  // A missing WebAssembly build silently costs ~10x per frame: say which kernel runs.
  app.log.info({ audioMode: config.audioMode, resamplerKernel: defaultKernelKind(), maxCalls: config.limits.maxCalls }, 'bridge ready');
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
