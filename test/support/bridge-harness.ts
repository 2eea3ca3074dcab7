// Test harness: a bridge listening on loopback with a test configuration,
// plus raw Twilio-side helpers (signed webhook, signed upgrade) built on the
// real twilio library. No network beyond 127.0.0.1.

import twilio from 'twilio';
import WebSocket from 'ws';
import pino from 'pino';
import { Writable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig, type Config } from '../../src/config/config.js';
import { buildApp, type AppDeps, type Bridge } from '../../src/app.js';
import { loggerOptions } from '../../src/telemetry/logging.js';

export const AUTH_TOKEN = 'test-auth-token-0123456789abcdef';
export const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
export const API_KEY = 'sk-test-long-lived-key-never-on-the-socket';
export const PUBLIC_URL = 'https://voice.example.com';

export function callSid(n = Math.floor(Math.random() * 1e9)): string {
  return 'CA' + n.toString(16).padStart(32, '0');
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    PUBLIC_URL,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    OPENAI_API_KEY: API_KEY,
    OPENAI_BASE_URL: 'http://127.0.0.1:9',
    // Never the real Twilio API from a test: port 9 on loopback refuses at once.
    TWILIO_API_BASE_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: 'debug',
    // Test files share two cores; admission by event-loop delay has its own test.
    MAX_EVENT_LOOP_DELAY_MS: '10000',
    ...env,
  });
}

export interface RunningBridge extends Bridge {
  readonly url: string;
  readonly port: number;
  readonly config: Config;
  /** Every JSON log line the bridge wrote. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startBridge(env: Record<string, string> = {}, deps: AppDeps = {}): Promise<RunningBridge> {
  const config = testConfig(env);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  // The product's own logger options (redaction, phone masking), writing into the test's sink.
  const logger = pino(loggerOptions({ level: config.logLevel, phoneMasking: config.logPhoneNumbers }), sink);
  const bridge = await buildApp(config, { logger, ...deps });
  await bridge.app.listen({ port: 0, host: '127.0.0.1' });
  const address = bridge.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { ...bridge, url: `http://127.0.0.1:${port}`, port, config, logs, close: () => bridge.app.close() };
}

export function webhookFields(sid: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CallSid: sid,
    AccountSid: ACCOUNT_SID,
    From: '+15551230001',
    To: '+15559870002',
    CallStatus: 'ringing',
    ApiVersion: '2010-04-01',
    Direction: 'inbound',
    ...extra,
  };
}

export async function postWebhook(
  bridgeUrl: string,
  fields: Record<string, string>,
  signature: string | null = twilio.getExpectedTwilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/twilio/voice`, fields),
): Promise<{ status: number; body: string; streamUrl?: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (signature !== null) headers['x-twilio-signature'] = signature;
  const res = await fetch(`${bridgeUrl}/twilio/voice`, { method: 'POST', headers, body: new URLSearchParams(fields).toString() });
  const body = await res.text();
  const match = /<Stream url="([^"]+)"/.exec(body);
  return match ? { status: res.status, body, streamUrl: match[1]!.replace(/&amp;/g, '&') } : { status: res.status, body };
}

/** Opens the stream socket as Twilio would. Resolves with the socket, or with the HTTP status of a refused upgrade. */
export function openStream(
  bridgeUrl: string,
  streamUrl: string,
  signature: string | null = twilio.getExpectedTwilioSignature(AUTH_TOKEN, streamUrl, {}),
): Promise<{ ws: WebSocket } | { status: number }> {
  const path = new URL(streamUrl).pathname;
  const headers: Record<string, string> = { 'user-agent': 'Twilio.TmeWs/1.0' };
  if (signature !== null) headers['x-twilio-signature'] = signature;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(bridgeUrl.replace(/^http/, 'ws') + path, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

export const STREAM_SID = 'MZ' + 'ab'.repeat(16);

export function startMessage(sid: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    streamSid: STREAM_SID,
    start: {
      accountSid: ACCOUNT_SID,
      streamSid: STREAM_SID,
      callSid: sid,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: {},
      ...overrides,
    },
  });
}

export function mediaMessage(seq: number, payload = Buffer.alloc(160, 0xff).toString('base64')): string {
  return JSON.stringify({
    event: 'media',
    sequenceNumber: String(seq + 2),
    streamSid: STREAM_SID,
    media: { track: 'inbound', chunk: String(seq + 1), timestamp: String(seq * 20), payload },
  });
}

export function stopMessage(sid: string): string {
  return JSON.stringify({ event: 'stop', sequenceNumber: '999', streamSid: STREAM_SID, stop: { accountSid: ACCOUNT_SID, callSid: sid } });
}

/** Resolves when `predicate` holds, polling; rejects after `ms`. */
export async function eventually(predicate: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The longest the test process's event loop stalled while a check ran. Tests that time real sockets add it to
 * an upper bound on a delay: a shared CI machine stalls the loop for tens to hundreds of ms, and everything due
 * during a stall (the simulator's clock, a scripted server's timer) lands at once afterwards.
 */
export function watchLoopStalls(): { maxMs: () => number; stop: () => void } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    maxMs: () => (histogram.count > 0 ? histogram.max / 1e6 : 0),
    stop: () => histogram.disable(),
  };
}
