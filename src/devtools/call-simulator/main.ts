// CLI: places one simulated call against a running bridge and prints the
// report, for manual use (`tsx src/devtools/call-simulator/main.ts --bridge
// http://127.0.0.1:8080 --public-url https://voice.example.com --wav x.wav`).
// As an entry point it is the one place here that reads process.env
// (TWILIO_AUTH_TOKEN, TWILIO_ACCOUNT_SID, PUBLIC_URL); it never prints the token.

import { parseArgs } from 'node:util';
import { scriptFromArgv, WAV_REPLY_TIMEOUT_MS } from './cli-script.js';
import { formatReport, runSimulatedCall, type CallReport } from './index.js';

const USAGE = `usage: call-simulator [options]
  --bridge URL         where the bridge listens (default http://127.0.0.1:8080)
  --public-url URL     the bridge's PUBLIC_URL, what Twilio signs (default $PUBLIC_URL)
  --wav PATH           say this 8 kHz WAV, then wait for the reply to finish (repeatable)
  --step SPEC          a script step, in order with --wav (repeatable):
                         say:PATH  silence:MS  wait:audio[:TIMEOUT_MS]  wait:done[:TIMEOUT_MS]
                         barge:AFTER_MS:PATH  dtmf:DIGITS  hangup
  --drop-silent        do not send silent frames (the timestamp jumps, as on real phone lines)
  --record PATH        write what the caller heard to a WAV (8 kHz)
  --from E164 --to E164 --call-sid CA…
  --max-duration MS    hang up after this long whatever happens (default 120000)
  --json               print the report as JSON (the heard samples summarised)
environment: TWILIO_AUTH_TOKEN and TWILIO_ACCOUNT_SID (required), PUBLIC_URL
exit status: 0 when the stream opened and the bridge broke no protocol rule, else 1`;

function summary(r: CallReport): unknown {
  return { ...r, heard: { sampleRate: 8000, samples: r.heard.length } };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      bridge: { type: 'string', default: 'http://127.0.0.1:8080' },
      'public-url': { type: 'string' },
      wav: { type: 'string', multiple: true },
      step: { type: 'string', multiple: true },
      'drop-silent': { type: 'boolean', default: false },
      record: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'call-sid': { type: 'string' },
      'max-duration': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const authToken = process.env['TWILIO_AUTH_TOKEN'];
  const accountSid = process.env['TWILIO_ACCOUNT_SID'];
  const publicUrl = values['public-url'] ?? process.env['PUBLIC_URL'];
  if (!authToken || !accountSid || !publicUrl) {
    console.error('TWILIO_AUTH_TOKEN and TWILIO_ACCOUNT_SID must be set, and --public-url given (or PUBLIC_URL set)\n\n' + USAGE);
    return 2;
  }
  const script = scriptFromArgv(argv);
  if (script.length === 0) script.push({ say: 'fixtures/caller-question.wav' }, { waitFor: 'assistantDone', timeoutMs: WAV_REPLY_TIMEOUT_MS });

  const report = await runSimulatedCall({
    bridgeUrl: values.bridge,
    publicUrl,
    authToken,
    accountSid,
    script,
    dropSilentFrames: values['drop-silent'],
    ...(values.record !== undefined ? { recordWav: values.record } : {}),
    ...(values.from !== undefined ? { from: values.from } : {}),
    ...(values.to !== undefined ? { to: values.to } : {}),
    ...(values['call-sid'] !== undefined ? { callSid: values['call-sid'] } : {}),
    ...(values['max-duration'] !== undefined ? { maxDurationMs: Number(values['max-duration']) } : {}),
  });
  console.log(values.json ? JSON.stringify(summary(report), null, 2) : formatReport(report));
  return report.upgradeStatus === 101 && report.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
