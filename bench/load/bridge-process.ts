// Bench-only: runs the bridge under test (or, for the bench's `relay` mode,
// the reference relay, bench/load/reference-relay.ts) as its own process,
// from source as `npm run dev` does, pinned to one core with taskset, with the loop probe
// preloaded. Reads its CPU time and RSS from /proc and its event-loop delay
// over IPC. Stops only the process it started, by its pid.

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { LoopSample, MemSample } from './loop-probe.js';
import { procCpuSeconds, procRssKiB } from './stats.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface BridgeProcessOptions {
  readonly mode: 'pcm24k' | 'pcmu';
  readonly openaiBaseUrl: string;
  readonly publicUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly apiKey: string;
  /** CPU list for taskset, e.g. "1"; undefined runs unpinned. */
  readonly cpu: string | undefined;
  /** The entry script, relative to the repository root; default src/server.ts (the bridge). */
  readonly entry?: string;
  /** Extra node flags (e.g. GC tuning), before the bench's own. */
  readonly nodeFlags?: readonly string[];
  /** Start the bridge as production does, with the OpenTelemetry preload, and metrics on (a Prometheus endpoint nobody scrapes). */
  readonly telemetry?: boolean;
  /** Append everything the process writes (e.g. --trace-gc-nvp lines) to this file. */
  readonly outputLog?: string;
}

export class BridgeProcess {
  readonly #child: ChildProcess;
  readonly url: string;
  #tail: string[] = [];
  #warnLines = 0;
  #exited = false;
  #loopWaiter: ((s: LoopSample) => void) | undefined;
  #memWaiter: ((s: MemSample) => void) | undefined;

  private constructor(child: ChildProcess, url: string, outputLog: string | undefined) {
    this.#child = child;
    this.url = url;
    const keep = (chunk: Buffer): void => {
      if (outputLog !== undefined) appendFileSync(outputLog, chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        if (/"level":(40|50|60)/.test(line) || !line.startsWith('{')) this.#warnLines++;
        this.#tail.push(line.slice(0, 400));
        if (this.#tail.length > 20) this.#tail.shift();
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('exit', () => {
      this.#exited = true;
    });
    child.on('message', (m: unknown) => {
      const mem = (m as { mem?: MemSample }).mem;
      if (mem !== undefined && this.#memWaiter !== undefined) {
        const w = this.#memWaiter;
        this.#memWaiter = undefined;
        w(mem);
      }
      const loop = (m as { loop?: LoopSample }).loop;
      if (loop !== undefined && this.#loopWaiter !== undefined) {
        const w = this.#loopWaiter;
        this.#loopWaiter = undefined;
        w(loop);
      }
    });
  }

  static async start(o: BridgeProcessOptions): Promise<BridgeProcess> {
    const port = await freePort();
    // --expose-gc only lets the probe collect before reading live memory; nothing else calls gc().
    const telemetry = o.telemetry === true ? ['--import', './src/telemetry/preload.ts'] : [];
    const metricsPort = o.telemetry === true ? { METRICS_PORT: String(await freePort()), METRICS_HOST: '127.0.0.1' } : {};
    const nodeArgs = [...(o.nodeFlags ?? []), '--expose-gc', '--import', 'tsx', ...telemetry, '--import', './bench/load/loop-probe.ts', o.entry ?? 'src/server.ts'];
    const [cmd, args] = o.cpu === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', o.cpu, process.execPath, ...nodeArgs]];
    const child = spawn(cmd, args, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'production',
        ...metricsPort,
        PORT: String(port),
        HOST: '127.0.0.1',
        PUBLIC_URL: o.publicUrl,
        TWILIO_ACCOUNT_SID: o.accountSid,
        TWILIO_AUTH_TOKEN: o.authToken,
        OPENAI_API_KEY: o.apiKey,
        OPENAI_BASE_URL: o.openaiBaseUrl,
        // No REST call is expected; if one happens it stays on loopback and fails fast.
        TWILIO_API_BASE_URL: o.openaiBaseUrl,
        AUDIO_MODE: o.mode,
        LOG_LEVEL: 'warn',
        MAX_CALLS: '100000',
        MAX_UNAUTHENTICATED_SOCKETS_PER_IP: '100000',
        AUTH_FAILURES_PER_MINUTE: '100000',
        MAX_EVENT_LOOP_DELAY_MS: '10000',
        MAX_TWILIO_MESSAGES_PER_SECOND: '100000',
        OPENAI_TOKEN_TTL_SECONDS: '600',
      },
    });
    const bridge = new BridgeProcess(child, `http://127.0.0.1:${port}`, o.outputLog);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (bridge.#exited) throw new Error(`bridge exited at start:\n${bridge.tail()}`);
      try {
        const r = await fetch(`${bridge.url}/healthz`);
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`bridge not healthy within 30 s:\n${bridge.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return bridge;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get warnLines(): number {
    return this.#warnLines;
  }

  tail(): string {
    return this.#tail.join('\n');
  }

  /** User and kernel CPU seconds of the bridge so far. */
  cpuSeconds(): { user: number; system: number } {
    return procCpuSeconds(this.pid);
  }

  rssKiB(): number {
    return procRssKiB(this.pid);
  }

  /** V8 CPU profile of the bridge from here until `stopProfile` (the probe's inspector session). */
  startProfile(): void {
    this.#child.send({ profile: { start: true } });
  }

  stopProfile(file: string): void {
    this.#child.send({ profile: { stopTo: file } });
  }

  /** Sampling heap profile from here until `stopHeapProfile`: allocations still alive when it stops. */
  startHeapProfile(): void {
    this.#child.send({ heapProfile: { start: true } });
  }

  stopHeapProfile(file: string): void {
    this.#child.send({ heapProfile: { stopTo: file } });
  }

  resetLoop(): void {
    this.#child.send('loop:reset');
  }

  readLoop(): Promise<LoopSample> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#loopWaiter = undefined;
        resolve({ p50Ms: NaN, p99Ms: NaN, maxMs: NaN, meanMs: NaN, count: 0, gc: { count: 0, totalMs: NaN, maxMs: NaN, majorCount: 0, majorMaxMs: NaN } });
      }, 2000);
      this.#loopWaiter = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
      this.#child.send('loop:read');
    });
  }

  /** Live memory after a full GC in the bridge. */
  readMemory(): Promise<MemSample> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#memWaiter = undefined;
        resolve({ rssKiB: NaN, heapUsedKiB: NaN, externalKiB: NaN });
      }, 5000);
      this.#memWaiter = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
      this.#child.send('mem:read');
    });
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
