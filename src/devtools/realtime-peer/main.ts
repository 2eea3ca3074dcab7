// CLI entry for manual use: starts a local realtime peer and prints its base
// URL (use it as the bridge's OPENAI_BASE_URL). Options come from argv
// (--port, --host, --api-key, --reply-wav) or the environment
// (REALTIME_PEER_PORT, REALTIME_PEER_HOST, REALTIME_PEER_API_KEY). Never
// prints the API key.

import { parseArgs } from 'node:util';
import { startRealtimePeer } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    'reply-wav': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help === true) {
  process.stdout.write('usage: tsx src/devtools/realtime-peer/main.ts [--port N] [--host H] [--api-key KEY] [--reply-wav FILE]\n');
  process.exit(0);
}

const portText = values.port ?? process.env['REALTIME_PEER_PORT'] ?? '0';
const port = Number(portText);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`realtime-peer: invalid port '${portText}'\n`);
  process.exit(2);
}
const apiKey = values['api-key'] ?? process.env['REALTIME_PEER_API_KEY'] ?? 'sk-local-peer';

const peer = await startRealtimePeer({
  apiKey,
  port,
  host: values.host ?? process.env['REALTIME_PEER_HOST'] ?? '127.0.0.1',
  ...(values['reply-wav'] === undefined ? {} : { replyWav: values['reply-wav'] }),
});
process.stdout.write(`${peer.baseUrl}\n`);
peer.on('session', (s) => process.stderr.write(`session ${s.index} opened (${s.credential.kind}, model ${s.model ?? '-'})\n`));
peer.on('sessionClosed', (s) => process.stderr.write(`session ${s.index} closed ${s.closed?.code} ${s.closed?.reason ?? ''}\n`));
peer.on('responseDone', (s, r) => process.stderr.write(`session ${s.index} response ${r.responseId} ${r.status}\n`));

const stop = (): void => {
  void peer.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
