// `npm run bench:parse`: the cost of reading one frame of each per-call stream,
// the byte-level fast path against the full path it replaces (Buffer →
// toString() → JSON.parse → field checks), in one process, rounds interleaved
// so both see the same machine noise. Inbound Twilio `media` frames
// (parseTwilioMessage(Buffer)) are built by the call simulator's writer (our
// stand-ins' key order) and in Twilio's own key order (streamSid last);
// upstream `response.output_audio.delta` events (parseServerEvent(Buffer))
// carry 20 ms of 24 kHz PCM16 in the GA server's key order (type first) and
// in our realtime peer's (event_id first). Prints and writes
// bench/results/parse-bench.{json,md}: ns per frame, frames/s, heap bytes per
// frame and the ratio. Only ratios from one run are meaningful on a noisy machine.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { mediaMessage, newStreamSid } from '../src/devtools/call-simulator/index.js';
import { parseMediaFast, parseTwilioMessage } from '../src/twilio/media-stream-messages.js';
import { parseAudioDeltaFast, parseServerEvent } from '../src/upstream/server-events.js';
import { allocationPerCall, forceGc, type AllocationResult } from './alloc.js';

const ROUNDS = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 9);
const FRAMES = 3000; // 60 s of one call's 20 ms frames
const root = new URL('..', import.meta.url);

// Deterministic audio-looking bytes: the parsers never decode them, only their base64 length matters.
function payloads(bytes: number): string[] {
  let s = 0x12345678;
  const out: string[] = [];
  for (let f = 0; f < FRAMES; f++) {
    const m = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      m[i] = s & 0xff;
    }
    out.push(m.toString('base64'));
  }
  return out;
}

interface Path {
  name: string;
  run: (buf: Buffer) => boolean;
}

/** One stream's frames and its two paths: full first, fast second. */
interface Layout {
  name: string;
  frames: Buffer[];
  paths: readonly [Path, Path];
}

const TWILIO_PATHS = [
  { name: 'full: toString + JSON.parse + checks', run: (buf) => parseTwilioMessage(buf.toString()).ok },
  { name: 'fast: parseTwilioMessage(Buffer)', run: (buf) => parseTwilioMessage(buf).ok },
] as const satisfies readonly [Path, Path];

const UPSTREAM_PATHS = [
  { name: 'full: toString + JSON.parse + checks', run: (buf) => parseServerEvent(buf.toString()).ok },
  { name: 'fast: parseServerEvent(Buffer)', run: (buf) => parseServerEvent(buf).ok },
] as const satisfies readonly [Path, Path];

function layouts(): Layout[] {
  const streamSid = newStreamSid();
  const b64 = payloads(160);
  const ours = b64.map((payload, f) => Buffer.from(mediaMessage({ sequenceNumber: f + 3, streamSid, chunk: f + 1, timestamp: 20 * f, payload })));
  const twilio = b64.map((payload, f) =>
    Buffer.from(`{"event":"media","sequenceNumber":"${f + 3}","media":{"track":"inbound","chunk":"${f + 1}","timestamp":"${20 * f}","payload":"${payload}"},"streamSid":"${streamSid}"}`),
  );
  for (const frames of [ours, twilio]) {
    for (const buf of frames) {
      const slow = parseTwilioMessage(buf.toString());
      if (parseMediaFast(buf) === undefined || !slow.ok) throw new Error('bench: a frame misses the fast path or is invalid');
    }
  }
  // Upstream: what the GA server sends (type first; ids of the real length) and what our realtime peer sends (event_id first).
  const pcm = payloads(960);
  const responseId = 'resp_CKzL0bL9qQ2fXyZrT8uVw';
  const itemId = 'item_CKzL0c1d2E3f4G5h6I7j8';
  const server = pcm.map((delta, f) =>
    Buffer.from(`{"type":"response.output_audio.delta","event_id":"event_CKzL0e${f.toString(36).padStart(16, '0')}","response_id":"${responseId}","item_id":"${itemId}","output_index":0,"content_index":0,"delta":"${delta}"}`),
  );
  const peer = pcm.map((delta, f) =>
    Buffer.from(JSON.stringify({ event_id: `event_7f3a${(f + 1).toString(36)}`, type: 'response.output_audio.delta', response_id: 'resp_7f3a01', item_id: 'item_7f3a02', output_index: 0, content_index: 0, delta })),
  );
  for (const frames of [server, peer]) {
    for (const buf of frames) {
      if (parseAudioDeltaFast(buf) === undefined || !parseServerEvent(buf.toString()).ok) throw new Error('bench: a delta misses the fast path or is invalid');
    }
  }
  return [
    { name: 'Twilio media, stand-in order (streamSid first)', frames: ours, paths: TWILIO_PATHS },
    { name: "Twilio media, Twilio's order (streamSid last)", frames: twilio, paths: TWILIO_PATHS },
    { name: "upstream audio delta, GA server's order (type first)", frames: server, paths: UPSTREAM_PATHS },
    { name: "upstream audio delta, our peer's order (event_id first)", frames: peer, paths: UPSTREAM_PATHS },
  ];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** ns per frame per round for each path; the order rotates every round. */
function timeInterleaved(frames: Buffer[], paths: readonly Path[], rounds: number): number[][] {
  const per: number[][] = paths.map(() => []);
  let sink = 0;
  for (let r = -1; r < rounds; r++) {
    for (let k = 0; k < paths.length; k++) {
      const c = (k + Math.max(0, r)) % paths.length;
      const run = paths[c]!.run;
      forceGc(); // every segment starts from a collected heap
      const t0 = process.hrtime.bigint();
      // 10 passes over the frames per segment: long enough to swamp timer resolution.
      for (let pass = 0; pass < 10; pass++) for (let f = 0; f < frames.length; f++) if (run(frames[f]!)) sink++;
      const ns = Number(process.hrtime.bigint() - t0) / (10 * frames.length);
      if (r >= 0) per[c]!.push(ns); // round -1 warms up JIT and caches
    }
  }
  if (sink < 0) console.log(sink);
  return per;
}

interface Row {
  layout: string;
  path: string;
  ns: number;
  rounds: number[];
  allocation: AllocationResult;
}

const fmtNs = (ns: number): string => `${Math.round(ns)} ns`;

async function main(): Promise<void> {
  const started = new Date();
  const all = layouts();
  const frameBytes = all[0]!.frames[0]!.length;
  const deltaBytes = all[2]!.frames[0]!.length;
  console.log(`parse bench: ${FRAMES} frames per layout (media ~${frameBytes} bytes, audio deltas ~${deltaBytes} bytes), ${ROUNDS} interleaved rounds, node ${process.version}, ${cpus()[0]?.model ?? '?'} × ${cpus().length}`);
  const rows: Row[] = [];
  for (const layout of all) {
    console.log(`timing ${layout.name} …`);
    const rounds = timeInterleaved(layout.frames, layout.paths, ROUNDS);
    for (const [k, path] of layout.paths.entries()) {
      // Runs short enough that no scavenge lands inside them: both paths allocate, so the slope is only readable without a GC.
      // Deltas are four times the size of media frames: a quarter of the calls for about the same heap growth.
      const [short, long] = layout.paths === UPSTREAM_PATHS ? [250, 1250] : [1000, 5000];
      const allocation = await allocationPerCall((i) => path.run(layout.frames[i % FRAMES]!), short, long);
      rows.push({ layout: layout.name, path: path.name, ns: median(rounds[k]!), rounds: rounds[k]!, allocation });
    }
  }

  const lines: string[] = [];
  lines.push(`Run ${started.toISOString()}, node ${process.version}, ${cpus()[0]?.model ?? '?'} × ${cpus().length} cores; ${FRAMES} frames per layout (media: 160 μ-law bytes, ~${frameBytes} bytes of JSON; audio deltas: 960 PCM16 bytes, ~${deltaBytes} bytes of JSON) × 10 passes per round, ${ROUNDS} interleaved rounds, median of round means.`);
  lines.push('');
  lines.push('| frame layout | path | ns/frame | frames/s | heap bytes/frame | full ÷ this |');
  lines.push('|---|---|---:|---:|---:|---:|');
  const ratios: { layout: string; fullNs: number; fastNs: number; ratio: number }[] = [];
  for (let i = 0; i < rows.length; i += 2) {
    const full = rows[i]!;
    const fast = rows[i + 1]!;
    ratios.push({ layout: full.layout, fullNs: full.ns, fastNs: fast.ns, ratio: full.ns / fast.ns });
    for (const r of [full, fast]) {
      lines.push(`| ${r.layout} | ${r.path} | ${fmtNs(r.ns)} | ${Math.round(1e9 / r.ns).toLocaleString('en-US')} | ${r.allocation.gcs === 0 ? r.allocation.bytesPerCall.toFixed(0) : 'n/a (GC while measuring)'} | ${(full.ns / r.ns).toFixed(2)}× |`);
    }
  }
  lines.push('');
  lines.push('full: what the bridge did with the socket\'s Buffer before the fast path (decode to a string, JSON.parse, check every field). fast: the same call with the Buffer, which reads the fixed media layout (or a compact audio delta in any key order) from the bytes and falls back to the full path for anything else.');
  lines.push('heap bytes/frame: slope of heap growth over 1,000 and 5,000 frames (bench/alloc.ts), garbage included: for the media fast path that is the result, its message, the streamSid and payload strings (track "inbound" is a constant); for the delta fast path the result, its event, the two id strings, the delta string and a DataView over the frame.');
  const text = lines.join('\n');
  console.log('\n' + text + '\n');
  for (const r of ratios) console.log(`${r.layout}: full ${fmtNs(r.fullNs)}, fast ${fmtNs(r.fastNs)}, fast path ${r.ratio.toFixed(2)}× faster`);

  const dir = new URL('bench/results/', root);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    new URL('parse-bench.json', dir),
    JSON.stringify({ started: started.toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, frames: FRAMES, rounds: ROUNDS, rows, ratios }, null, 2) + '\n',
  );
  writeFileSync(new URL('parse-bench.md', dir), `# Parse bench (\`npm run bench:parse\`)\n\n${text}\n`);
  console.log('wrote bench/results/parse-bench.json and bench/results/parse-bench.md');
}

await main();
