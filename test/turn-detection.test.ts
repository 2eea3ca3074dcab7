// The VAD_* settings through real sockets: the bridge configures the service's
// turn detection with them, and the local realtime peer's VAD (which honours
// the session's server_vad settings) ends the caller's turns accordingly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulatedCall, type CallStep } from '../src/devtools/call-simulator/index.js';
import { startRealtimePeer, type RealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { ACCOUNT_SID, API_KEY, AUTH_TOKEN, PUBLIC_URL, startBridge } from './support/bridge-harness.js';

let peer: RealtimePeer;

before(async () => {
  peer = await startRealtimePeer({ apiKey: API_KEY, reply: () => ({ type: 'audio', samples24k: new Int16Array(2400), transcript: 'Yes.' }) });
});
after(() => peer.close());

/** A 300 Hz tone at 8 kHz: speech as far as an energy VAD can tell. */
function tone(ms: number): Int16Array {
  return Int16Array.from({ length: ms * 8 }, (_, i) => Math.round(10_000 * Math.sin((2 * Math.PI * 300 * i) / 8000)));
}

/** Two bursts of "speech" 800 ms apart, then silence: one turn or two, depending on the silence that ends a turn. */
const PAUSED_SENTENCE: CallStep[] = [{ silenceMs: 200 }, { say: tone(600) }, { silenceMs: 800 }, { say: tone(600) }, { silenceMs: 2500 }, { hangup: true }];

async function turnsCommitted(env: Record<string, string>) {
  const bridge = await startBridge({ OPENAI_BASE_URL: peer.baseUrl, ...env });
  try {
    const before = peer.sessions.length;
    const report = await runSimulatedCall({ bridgeUrl: bridge.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, script: PAUSED_SENTENCE });
    assert.deepEqual(report.violations, []);
    const session = peer.sessions[before]!;
    const t = session.config?.audio?.input?.turn_detection;
    assert.ok(t?.type === 'server_vad', 'server_vad configured');
    const vad = { threshold: t.threshold, prefix: t.prefix_padding_ms, silence: t.silence_duration_ms };
    return { commits: session.sentOfType('input_audio_buffer.committed').length, vad };
  } finally {
    await bridge.close();
  }
}

test('by default an 800 ms pause ends the turn (500 ms of silence does)', async () => {
  const { commits, vad } = await turnsCommitted({});
  assert.equal(commits, 2);
  assert.deepEqual(vad, { threshold: 0.5, prefix: 300, silence: 500 });
});

test('VAD_SILENCE_DURATION_MS=1500 lets the caller pause for 800 ms mid-sentence; the other VAD_* settings reach the service too', async () => {
  const { commits, vad } = await turnsCommitted({ VAD_SILENCE_DURATION_MS: '1500', VAD_THRESHOLD: '0.6', VAD_PREFIX_PADDING_MS: '200' });
  assert.equal(commits, 1);
  assert.deepEqual(vad, { threshold: 0.6, prefix: 200, silence: 1500 });
});
