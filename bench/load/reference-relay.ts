// Bench-only reference for `npm run bench:load` (mode `relay`): a minimal,
// naive-but-reasonable Twilio Media Streams ↔ OpenAI Realtime passthrough
// relay of the kind the common sample bridges are, so the bridge's CPU per
// call can be compared with one measured in the same run on the same machine.
// It is never part of the product and nothing in src/ imports it.
//
// What it does, and all it does: fastify + @fastify/websocket for Twilio,
// `ws` for the upstream; per call one client-secret mint, one upstream
// socket, one GA `session.update` (audio/pcmu both ways); every message on
// either side JSON-parsed; caller `media` → `input_audio_buffer.append`;
// `response.output_audio.delta` → Twilio `media`, with a `mark` after the
// delta that completes each 60 ms of audio (as the bridge marks, so the
// message counts match); `speech_started` while an answer is streaming or
// its marks are still out → Twilio `clear`; each side closed
// when the other closes. No signature checks, tickets, DSP, pacing,
// truncation, cancellation, limits or telemetry, and no per-call logging
// (the bench counts every non-JSON output line as a warning).
//
// Run like the bridge: PORT, HOST, PUBLIC_URL, OPENAI_BASE_URL,
// OPENAI_API_KEY (and OPENAI_REALTIME_MODEL, default gpt-realtime).

import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import fastifyWebsocket from '@fastify/websocket';
import WebSocket from 'ws';

const PORT = Number(process.env.PORT ?? 8080);
const HOST = process.env.HOST ?? '0.0.0.0';
const PUBLIC_URL = process.env.PUBLIC_URL ?? `http://localhost:${PORT}`;
const OPENAI_BASE_URL = (process.env.OPENAI_BASE_URL ?? 'https://api.openai.com').replace(/\/+$/, '');
const OPENAI_API_KEY = process.env.OPENAI_API_KEY ?? '';
const MODEL = process.env.OPENAI_REALTIME_MODEL ?? 'gpt-realtime';
const MARK_EVERY_BYTES = 480; // 60 ms of μ-law

const SESSION_UPDATE = JSON.stringify({
  type: 'session.update',
  session: {
    type: 'realtime',
    instructions: 'You are a helpful voice assistant on a phone call. Keep answers short.',
    output_modalities: ['audio'],
    audio: {
      input: { format: { type: 'audio/pcmu' }, turn_detection: { type: 'server_vad' } },
      output: { format: { type: 'audio/pcmu' }, voice: 'alloy' },
    },
  },
});

async function mintClientSecret(): Promise<string> {
  const res = await fetch(`${OPENAI_BASE_URL}/v1/realtime/client_secrets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPENAI_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ session: { type: 'realtime', model: MODEL } }),
  });
  if (!res.ok) throw new Error(`client secret: HTTP ${res.status}`);
  const body = (await res.json()) as { value: string };
  return body.value;
}

function realtimeUrl(): string {
  const url = new URL('/v1/realtime', OPENAI_BASE_URL.replace(/^http/, 'ws'));
  url.searchParams.set('model', MODEL);
  return url.toString();
}

/** One call: the Twilio socket and its upstream socket, wired together. */
function relayCall(twilio: WebSocket): void {
  let upstream: WebSocket | undefined;
  let upstreamOpen = false;
  let closed = false;
  // Appends that arrive before the upstream socket is open wait here rather than being lost.
  const pending: string[] = [];
  let streamSid = '';
  let bytesUnmarked = 0;
  let marksSent = 0;
  let marksOut = 0;
  let playingItem: string | undefined;

  const sendUpstream = (text: string): void => {
    if (upstreamOpen) upstream!.send(text);
    else pending.push(text);
  };
  const closeBoth = (): void => {
    if (closed) return;
    closed = true;
    if (upstream !== undefined && upstream.readyState !== WebSocket.CLOSED) upstream.close();
    if (twilio.readyState !== WebSocket.CLOSED) twilio.close();
  };

  mintClientSecret().then(
    (secret) => {
      if (closed) return;
      const ws = new WebSocket(realtimeUrl(), { headers: { authorization: `Bearer ${secret}` } });
      upstream = ws;
      ws.on('open', () => {
        upstreamOpen = true;
        ws.send(SESSION_UPDATE);
        for (const text of pending) ws.send(text);
        pending.length = 0;
      });
      ws.on('message', (data) => {
        const event = JSON.parse(data.toString()) as { type: string; delta?: string; item_id?: string };
        switch (event.type) {
          case 'response.output_audio.delta':
            if (twilio.readyState !== WebSocket.OPEN) return;
            playingItem = event.item_id;
            twilio.send(JSON.stringify({ event: 'media', streamSid, media: { payload: event.delta } }));
            bytesUnmarked += Math.floor((event.delta!.length * 3) / 4);
            if (bytesUnmarked >= MARK_EVERY_BYTES) {
              bytesUnmarked = 0;
              marksOut++;
              twilio.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: `m${++marksSent}` } }));
            }
            return;
          case 'response.output_audio.done':
          case 'response.done':
            playingItem = undefined;
            return;
          case 'input_audio_buffer.speech_started':
            // The caller talks over the answer: drop what Twilio still has queued.
            if ((playingItem !== undefined || marksOut > 0) && twilio.readyState === WebSocket.OPEN) {
              twilio.send(JSON.stringify({ event: 'clear', streamSid }));
              playingItem = undefined;
              marksOut = 0;
            }
            return;
          case 'error':
            return;
        }
      });
      ws.on('error', (err) => console.error(`upstream error: ${err.message}`));
      ws.on('close', closeBoth);
    },
    (err: unknown) => {
      console.error(`could not open the upstream session: ${err instanceof Error ? err.message : String(err)}`);
      closeBoth();
    },
  );

  twilio.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { event: string; start?: { streamSid: string }; media?: { payload: string } };
    switch (message.event) {
      case 'media':
        sendUpstream(JSON.stringify({ type: 'input_audio_buffer.append', audio: message.media!.payload }));
        return;
      case 'start':
        streamSid = message.start!.streamSid;
        return;
      case 'mark':
        marksOut = Math.max(0, marksOut - 1);
        return;
      case 'stop':
        closeBoth();
        return;
    }
  });
  twilio.on('error', (err) => console.error(`twilio socket error: ${err.message}`));
  twilio.on('close', closeBoth);
}

async function main(): Promise<void> {
  const app = Fastify();
  await app.register(formbody);
  await app.register(fastifyWebsocket);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.post('/twilio/voice', async (_request, reply) => {
    const host = new URL(PUBLIC_URL).host;
    const id = Math.random().toString(36).slice(2);
    reply.type('text/xml');
    return `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://${host}/twilio/stream/${id}"/></Connect></Response>`;
  });

  app.get('/twilio/stream/:id', { websocket: true }, (socket) => relayCall(socket));

  await app.listen({ port: PORT, host: HOST });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
