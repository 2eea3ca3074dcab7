// Owns the per-call test stand for the resilience bench: a fresh local
// realtime peer and a fresh bridge (in-process, loopback, a config per fault
// kind) for every simulated call, so every peer session, token request and
// upgrade the peer records belongs to that one call. Never touches the
// network beyond 127.0.0.1 and never logs credentials (the bridge's own
// redaction applies to the warn lines it keeps).

import { Writable } from 'node:stream';
import pino from 'pino';
import { readWav } from '../../src/audio/wav.js';
import { buildApp, type AppDeps, type Bridge } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { startRealtimePeer, type Pacing, type RealtimePeer } from '../../src/devtools/realtime-peer/index.js';

export const AUTH_TOKEN = 'bench-auth-token-0123456789abcdef';
export const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
export const API_KEY = 'sk-bench-long-lived-key-never-on-the-socket';
export const PUBLIC_URL = 'https://voice.example.com';

const root = new URL('../../', import.meta.url);
export const fixture = (name: string): string => new URL(`fixtures/${name}`, root).pathname;

/** The assistant's reply: the first 1.5 s of the fixture, as in test/resilience.test.ts. */
export const REPLY_SAMPLES = readWav(fixture('assistant-reply.wav')).samples.slice(0, 36_000);
export const REPLY_MS = REPLY_SAMPLES.length / 24;

/** Real-time reply pacing (100 ms deltas every 100 ms) keeps a response in flight long enough to cut it. */
export const REALTIME_PACING: Partial<Pacing> = { chunkMs: 100, deltasPerBurst: 1, burstIntervalMs: 100, firstDeltaDelayMs: 50 };

export function startPeer(): Promise<RealtimePeer> {
  return startRealtimePeer({
    apiKey: API_KEY,
    reply: () => ({ type: 'audio', samples24k: REPLY_SAMPLES, transcript: 'We open at nine on Saturdays and close at five.' }),
    vad: { silenceDurationMsOverride: 300 },
    pacing: REALTIME_PACING,
    // Appends keep their decoded byte count (audioBytes) without the payload.
    recordAudio: false,
  });
}

export interface BenchBridge extends Bridge {
  readonly url: string;
  readonly config: Config;
  /** The bridge's warn-and-above log lines (for diagnosing a bad call). */
  readonly warnings: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startBridge(env: Record<string, string>, deps: AppDeps): Promise<BenchBridge> {
  const config = loadConfig({
    PUBLIC_URL,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    OPENAI_API_KEY: API_KEY,
    LOG_LEVEL: 'warn',
    ...env,
  });
  const warnings: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) warnings.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const bridge = await buildApp(config, { logger: pino({ level: config.logLevel }, sink), ...deps });
  await bridge.app.listen({ port: 0, host: '127.0.0.1' });
  const address = bridge.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { ...bridge, url: `http://127.0.0.1:${port}`, config, warnings, close: () => bridge.app.close() };
}
