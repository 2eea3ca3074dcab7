// Runs a module script in a child Node process with the telemetry preload
// loaded first, as production starts the bridge, and collects its output.
// For tests of what the preload does with a given environment.

import { spawn } from 'node:child_process';

export interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runPreloaded(env: NodeJS.ProcessEnv, script: string): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/telemetry/preload.ts', '--input-type=module', '-e', script], {
      // Only what the test sets, plus PATH: the developer's own OTEL_* must not leak in.
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
