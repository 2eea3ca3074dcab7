// `npm run demo`: the product's main job, offline. Starts the local realtime
// peer, the bridge (configured exactly as in production, but pointed at the
// peer and at a made-up public URL), and one simulated Twilio call in which
// the caller asks a question, interrupts the answer, and listens to the
// second answer. Prints a short summary and writes what the caller heard.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config/config.js';
import { buildApp } from '../app.js';
import { readWav } from '../audio/wav.js';
import { runSimulatedCall } from './call-simulator/index.js';
import { startRealtimePeer } from './realtime-peer/index.js';
import { TwilioApiStandIn } from './twilio-api/twilio-api-stand-in.js';

// Throwaway demo credentials: they only ever meet the local peer and the local simulator.
const DEMO_ENV = {
  PUBLIC_URL: 'https://voice.example.com',
  TWILIO_ACCOUNT_SID: 'AC' + '00000000000000000000000000000d30',
  TWILIO_AUTH_TOKEN: 'demo-auth-token-not-a-secret',
  OPENAI_API_KEY: 'sk-demo-local-peer-only',
};

async function main(): Promise<void> {
  const reply = readWav('fixtures/assistant-reply.wav').samples;
  const peer = await startRealtimePeer({
    apiKey: DEMO_ENV.OPENAI_API_KEY,
    reply: (ctx) =>
      ctx.responseNumber === 1
        ? { type: 'audio', samples24k: reply, transcript: 'The library is open from nine until five on Saturdays…' }
        : { type: 'audio', samples24k: reply.slice(0, 24000 * 3), transcript: 'On Sundays only the east wing is open.' },
  });
  // Twilio's REST API (used for fallbacks and hang-ups) is a local stand-in too: the demo never leaves loopback.
  const twilioApi = await TwilioApiStandIn.start({ accountSid: DEMO_ENV.TWILIO_ACCOUNT_SID, authToken: DEMO_ENV.TWILIO_AUTH_TOKEN });
  const config = loadConfig({
    ...DEMO_ENV,
    OPENAI_BASE_URL: peer.baseUrl,
    TWILIO_API_BASE_URL: twilioApi.baseUrl,
    LOG_LEVEL: 'warn',
    PORT: '0',
    HOST: '127.0.0.1',
  });
  const { app } = await buildApp(config, { logger: pino({ level: config.logLevel }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const bridgeUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const heardPath = join(tmpdir(), 'twilio-realtime-bridge-demo-heard.wav');
  console.log(`bridge ${bridgeUrl} (public URL ${config.publicUrl}), realtime peer ${peer.baseUrl}, audio mode ${config.audioMode}`);
  console.log('calling: the caller asks a question, interrupts the answer, then listens…');

  const report = await runSimulatedCall({
    bridgeUrl,
    publicUrl: config.publicUrl,
    authToken: config.twilio.authToken,
    accountSid: config.twilio.accountSid,
    recordWav: heardPath,
    script: [
      { say: 'fixtures/caller-question.wav' },
      { bargeIn: 2000, say: 'fixtures/caller-interrupt.wav' },
      { waitFor: 'assistantDone', idleMs: 500 },
      { hangup: true },
    ],
  });
  const session = peer.sessions[0];
  const truncate = session?.receivedOfType('conversation.item.truncate')[0];
  await app.close();
  await peer.close();
  await twilioApi.close();

  const ms = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)} ms`);
  const summary = [
    '',
    'Call summary',
    `  call            ${report.callSid}, ${ms(report.durationMs)}, ended: ${report.endReason} (close ${report.closeCode ?? '-'})`,
    `  security        webhook HTTP ${report.webhook.status}, signed upgrade ${report.upgradeStatus}, AI socket credential: ${session?.credential.kind ?? '-'} token`,
    `  caller → AI     ${report.framesSent} frames (20 ms μ-law 8 kHz) → ${session?.receivedOfType('input_audio_buffer.append').length ?? 0} appends of PCM16 24 kHz`,
    `  AI → caller     ${ms(report.audioReceivedMs)} of audio in ${report.media.length} media messages, max lead ahead of playback ${ms(report.maxLeadMs)}`,
    `  turns           response latency heard by the caller: ${report.latenciesMs.map((l) => ms(l)).join(', ') || '-'}`,
    `  barge-in        ${report.clears.length} clear(s); AI told the caller heard ${ms(truncate?.audio_end_ms)} of the interrupted answer`,
    `  protocol        ${report.violations.length} violations, ${report.marksAcked}/${report.marksSent} marks echoed at playback time`,
    `  recording       ${heardPath} (what the caller heard)`,
  ];
  console.log(summary.join('\n'));
  const ok = report.violations.length === 0 && report.upgradeStatus === 101 && report.latenciesMs.length > 0 && report.clears.length === 1;
  if (!ok) {
    console.error('demo call did not go as expected');
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
