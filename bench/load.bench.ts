// `npm run bench:load`: N simultaneous simulated calls against the bridge, in
// real time, in three modes in the same run: `relay`, a minimal reference
// passthrough relay of the common sample kind (bench/load/reference-relay.ts:
// no DSP, no security, pcmu audio), the baseline the issue's CPU target is
// stated against; `pcmu`, the bridge with AUDIO_MODE=pcmu (passthrough); and
// `pcm24k`, the bridge transcoding. The process under test runs on its own,
// pinned to core 1; this process (the load generator: Twilio's side of every
// call and a lean realtime peer, bench/load/generator.ts) pins itself to core
// 0. For each mode and N it prints and writes (bench/results/load.{json,md}):
// the process's CPU and RSS, its event-loop delay, added latency per frame in
// each direction, late and dropped frames, the generator's own CPU and loop
// delay, linear fits of CPU and RSS against N, the largest clean N, and the
// CPU-per-call ratios pcm24k/pcmu, pcm24k/relay and pcmu/relay.
//
//   npm run bench:load                      full run (~14 minutes)
//   npm run bench:load -- --quick           smoke run (~1 minute)
//   npm run bench:load -- --levels=0,100,300 --window=10 --modes=pcm24k
//   npm run bench:load -- --modes=pcm24k --bridge-node-flags=--max-semi-space-size=64
//   npm run bench:load -- --levels=0,150 --profile=/tmp/prof   V8 profile of each window
//   npm run bench:load -- --levels=0,200 --modes=pcm24k --heap-profile=/tmp/heap   allocations alive at each window's end (bench/heap-summary.ts)
//   npm run bench:load -- --telemetry     the bridge with the OTel preload and metrics on
//   npm run bench:load -- --reply=burst   answers streamed as 160 ms deltas at 8× real time (as the service does)
//   npm run bench:load -- --levels=0,200 --modes=pcm24k --bridge-node-flags=--trace-gc-nvp --bridge-log=/tmp/gc.log
//                                           the bridge's GC trace, for bench/gc-summary.ts

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadAudio } from './load/audio-frames.js';
import { BridgeProcess } from './load/bridge-process.js';
import { LoadGenerator, type WindowStats } from './load/generator.js';
import type { LoopSample } from './load/loop-probe.js';
import { cpuBusySeconds, linearFit, procAllowedCpus, type LinearFit } from './load/stats.js';

/** `relay` is the reference relay carrying pcmu audio; the others are the bridge's AUDIO_MODE. */
type Mode = 'relay' | 'pcm24k' | 'pcmu';
const ALL_MODES: readonly Mode[] = ['relay', 'pcmu', 'pcm24k'];

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const QUICK = argv.includes('--quick');
const LEVELS = (flag('levels') ?? (QUICK ? '0,10,40' : '0,50,100,150,200,250,300,350,400,500,600,800')).split(',').map(Number);
const WINDOW_S = Number(flag('window') ?? (QUICK ? 4 : 10));
// A level is measured in steady state: every call added by the ramp (as fast as the generator can place them, far
// faster than real arrivals) has been through one whole 8 s turn cycle, so its buffers have reached their working size,
// and V8 has resized its heap for the new calls. With 3 s, the window still caught the mark-compacts of that growth:
// traced at 300 calls, pauses of about 10 ms came 0.3-2 s apart in the first seconds after the ramp, and the gap had
// grown to about 9 s by 8 s after it. Real traffic, arriving a call at a time, does not bunch that growth together.
const SETTLE_S = Number(flag('settle') ?? (QUICK ? 1.5 : 12));
const MODES = (flag('modes') ?? ALL_MODES.join(',')).split(',') as Mode[];
for (const m of MODES) if (!ALL_MODES.includes(m)) throw new Error(`unknown mode ${m}: --modes= takes ${ALL_MODES.join(', ')}`);
const MODE_BUDGET_S = Number(flag('mode-budget') ?? 330);
const BARGE_IN_EVERY = 4;
/**
 * --reply=burst: answers stream as 160 ms deltas at 8× real time, as the service sends them, instead of one 20 ms
 * delta per 20 ms. The bridge then paces them out, so this is the shape that shows what pacing costs; outbound
 * latency counts from when each 20 ms was due to play. Results go to load-burst.{json,md}.
 */
const REPLY_SHAPE = replyShape(flag('reply') ?? 'realtime');
function replyShape(value: string): 'realtime' | 'burst' {
  if (value !== 'realtime' && value !== 'burst') throw new Error(`--reply= takes realtime or burst, not ${value}`);
  return value;
}
/** --profile=DIR: a V8 CPU profile of the bridge over each measured window, DIR/bridge-<mode>-<N>.cpuprofile. */
const PROFILE_DIR = flag('profile') === undefined ? undefined : resolve(flag('profile')!);
if (PROFILE_DIR !== undefined) mkdirSync(PROFILE_DIR, { recursive: true });
/** --heap-profile=DIR: a sampling heap profile of the bridge over each window (allocations alive at its end), DIR/bridge-<mode>-<N>.heapprofile. */
const HEAP_PROFILE_DIR = flag('heap-profile') === undefined ? undefined : resolve(flag('heap-profile')!);
if (HEAP_PROFILE_DIR !== undefined) mkdirSync(HEAP_PROFILE_DIR, { recursive: true });
/** --bridge-node-flags='--max-semi-space-size=64 …': node flags for the bridge process (not the relay's), to measure runtime tuning. */
const BRIDGE_NODE_FLAGS = (flag('bridge-node-flags') ?? '').split(' ').filter((f) => f !== '');
/** --bridge-log=FILE: everything the bridge writes is appended to FILE, e.g. with --bridge-node-flags=--trace-gc-nvp. */
const BRIDGE_LOG = flag('bridge-log') === undefined ? undefined : resolve(flag('bridge-log')!);
/** --telemetry: the bridge runs with the OpenTelemetry preload and metrics on, as in production (the relay never does). */
const TELEMETRY = argv.includes('--telemetry');
const WARMUP_CALLS = 20;
const WARMUP_S = QUICK ? 5 : 10;

/** The issue's CPU target relative to the reference passthrough: 0.20 % of a core per call against its 0.25 %. */
const RELAY_RATIO_TARGET = 0.2 / 0.25;
/** Added latency budget per frame and direction (the issue's target). */
const LATENCY_TARGET_MS = 5;
/** Past this the generator, not the bridge, may be what limits the run. */
const GEN_CPU_LIMIT_PCT = 85;
const GEN_LATE_LIMIT_MS = 5;
const GEN_BUSY_PCT = 50;
/** A saturated bridge: its numbers at this level say only "too many". */
const BRIDGE_SATURATED_PCT = 95;
/** Other processes took this much of either core during the window: the level is reported but left out of fits and verdicts. */
const NOISY_NEIGHBOURS_PCT = 20;

const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
const AUTH_TOKEN = 'load-bench-auth-token-0123456789';
const API_KEY = 'sk-load-bench';
const PUBLIC_URL = 'https://voice.load-bench.test';

interface Row {
  readonly mode: Mode;
  readonly n: number;
  readonly bridge: {
    cpuPct: number;
    /** The kernel's part of cpuPct (stime): socket reads and writes, mostly. */
    sysPct: number;
    rssKiB: number;
    liveKiB: number;
    loopP50Ms: number;
    loopP99Ms: number;
    loopMaxMs: number;
    gc: LoopSample['gc'];
    warnLines: number;
  };
  readonly window: WindowStats;
  readonly rampSeconds: number;
  /** CPU time other processes took on the generator's core (0) and the bridge's core (1) during the window, % of a core. */
  readonly othersPct: readonly [number, number];
  /** Why this N may not speak for the bridge: '' when it does. */
  readonly limit: '' | 'generator' | 'bridge-saturated' | 'noisy neighbours';
}

interface ModeResult {
  readonly mode: Mode;
  readonly rows: Row[];
  readonly cpuFit: LinearFit;
  /** The kernel's part of the CPU fit. */
  readonly sysFit: LinearFit;
  readonly rssFit: LinearFit;
  readonly liveFit: LinearFit;
  readonly largestCleanN: number;
  /** Every level that met the latency target with nothing dropped, in or out of a run of clean levels. */
  readonly cleanLevels: number[];
  readonly cleanUpToLastLevel: boolean;
  readonly firstGeneratorLimitedN: number | undefined;
  readonly stoppedBecause: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pinSelf(cpu: string): string | undefined {
  try {
    execFileSync('taskset', ['-a', '-cp', cpu, String(process.pid)], { stdio: 'ignore' });
    return cpu;
  } catch {
    return undefined;
  }
}

async function runMode(mode: Mode, pinned: boolean): Promise<ModeResult> {
  // The reference relay carries μ-law both ways, as the bridge does in pcmu mode.
  const audioMode = mode === 'relay' ? 'pcmu' : mode;
  const gen = new LoadGenerator({
    publicUrl: PUBLIC_URL,
    authToken: AUTH_TOKEN,
    accountSid: ACCOUNT_SID,
    apiKey: API_KEY,
    audio: loadAudio(audioMode),
    bargeInEvery: BARGE_IN_EVERY,
    replyShape: REPLY_SHAPE,
  });
  const peerUrl = await gen.listen();
  const bridge = await BridgeProcess.start({
    mode: audioMode,
    openaiBaseUrl: peerUrl,
    publicUrl: PUBLIC_URL,
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiKey: API_KEY,
    cpu: pinned ? '1' : undefined,
    ...(mode === 'relay' ? { entry: 'bench/load/reference-relay.ts' } : { nodeFlags: BRIDGE_NODE_FLAGS, telemetry: TELEMETRY, ...(BRIDGE_LOG === undefined ? {} : { outputLog: BRIDGE_LOG }) }),
  });
  gen.setBridgeUrl(bridge.url);
  console.log(`\n[${mode}] ${mode === 'relay' ? 'reference relay' : 'bridge'} pid ${bridge.pid} on CPU ${procAllowedCpus(bridge.pid)}, generator on CPU ${procAllowedCpus(process.pid)}`);
  gen.start();
  // Warm-up: a few calls through every code path (webhook, tickets, WASM, barge-in; the relay's fewer) so JIT and lazy
  // initialisation are not billed to the first level; then the bridge idles for N=0.
  for (let i = 0; i < WARMUP_CALLS; i++) await gen.addCall();
  await sleep(WARMUP_S * 1000);
  await gen.hangupAll();
  await sleep(2000);
  const rows: Row[] = [];
  const started = performance.now();
  let stoppedBecause = 'all levels run';
  try {
    for (const n of LEVELS) {
      const r0 = performance.now();
      while (gen.size < n) await gen.addCall();
      const rampSeconds = (performance.now() - r0) / 1000;
      await sleep(SETTLE_S * 1000);
      bridge.resetLoop();
      const warn0 = bridge.warnLines;
      const cpu0 = bridge.cpuSeconds();
      const busy0 = cpuBusySeconds();
      const t0 = performance.now();
      if (PROFILE_DIR !== undefined) bridge.startProfile();
      if (HEAP_PROFILE_DIR !== undefined) bridge.startHeapProfile();
      gen.beginWindow();
      await sleep(WINDOW_S * 1000);
      const window = gen.endWindow();
      if (PROFILE_DIR !== undefined) bridge.stopProfile(join(PROFILE_DIR, `bridge-${mode}-${n}.cpuprofile`));
      if (HEAP_PROFILE_DIR !== undefined) bridge.stopHeapProfile(join(HEAP_PROFILE_DIR, `bridge-${mode}-${n}.heapprofile`));
      const cpu1 = bridge.cpuSeconds();
      const busy1 = cpuBusySeconds();
      const t1 = performance.now();
      const loop = await bridge.readLoop();
      const rssKiB = bridge.rssKiB();
      const mem = await bridge.readMemory();
      const cpuPct = ((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / ((t1 - t0) / 1000)) * 100;
      const sysPct = ((cpu1.system - cpu0.system) / ((t1 - t0) / 1000)) * 100;
      const corePct = (c: number) => (((busy1[c] ?? 0) - (busy0[c] ?? 0)) / ((t1 - t0) / 1000)) * 100;
      const othersPct: [number, number] = [Math.max(0, corePct(0) - window.generator.cpuPct), Math.max(0, corePct(1) - cpuPct)];
      // The generator limits the measurement when its core is nearly full, or when its own lateness (busy,
      // not merely descheduled by neighbours) is a large part of the latency it measures.
      const measuredP99 = Math.max(window.inbound.p99Ms, window.outbound.p99Ms);
      const genLimited =
        window.generator.cpuPct >= GEN_CPU_LIMIT_PCT ||
        (window.generator.cpuPct >= GEN_BUSY_PCT && window.generator.tickLateP99Ms > GEN_LATE_LIMIT_MS && window.generator.tickLateP99Ms > measuredP99 / 2);
      const row: Row = {
        mode,
        n,
        bridge: { cpuPct, sysPct, rssKiB, liveKiB: mem.heapUsedKiB + mem.externalKiB, loopP50Ms: loop.p50Ms, loopP99Ms: loop.p99Ms, loopMaxMs: loop.maxMs, gc: loop.gc, warnLines: bridge.warnLines - warn0 },
        window,
        rampSeconds,
        othersPct,
        limit: genLimited
          ? 'generator'
          : cpuPct >= BRIDGE_SATURATED_PCT
            ? 'bridge-saturated'
            : Math.max(...othersPct) >= NOISY_NEIGHBOURS_PCT
              ? 'noisy neighbours'
              : '',
      };
      rows.push(row);
      console.log(formatRow(row));
      if (window.unexpected.length > 0) console.log(`    unexpected: ${window.unexpected.join(' | ')}`);
      if (row.limit === 'generator') {
        stoppedBecause = `the generator became the limit at N=${n}`;
        break;
      }
      if (row.limit === 'bridge-saturated') {
        stoppedBecause = `the bridge saturated its core at N=${n}`;
        break;
      }
      if ((performance.now() - started) / 1000 > MODE_BUDGET_S) {
        stoppedBecause = `time budget for the mode (${MODE_BUDGET_S} s) spent after N=${n}`;
        break;
      }
    }
  } catch (err) {
    stoppedBecause = `error: ${err instanceof Error ? err.message : String(err)}`;
    console.log(`  ${stoppedBecause}\n${bridge.tail()}`);
  } finally {
    await gen.close();
    await bridge.stop();
  }
  return summarise(mode, rows, stoppedBecause);
}

function isClean(r: Row): boolean {
  const w = r.window;
  return w.inbound.p99Ms < LATENCY_TARGET_MS && w.outbound.p99Ms < LATENCY_TARGET_MS && w.inbound.dropped === 0 && w.outbound.dropped === 0;
}

function summarise(mode: Mode, rows: Row[], stoppedBecause: string): ModeResult {
  // Fits use the levels that speak for the bridge: not generator-limited, not saturated, not crowded by neighbours.
  const fitRows = rows.filter((r) => r.limit === '');
  const xs = fitRows.map((r) => r.n);
  const cpuFit = linearFit(xs, fitRows.map((r) => r.bridge.cpuPct));
  const sysFit = linearFit(xs, fitRows.map((r) => r.bridge.sysPct));
  const rssFit = linearFit(xs, fitRows.map((r) => r.bridge.rssKiB));
  const liveFit = linearFit(xs, fitRows.map((r) => r.bridge.liveKiB));
  let largestCleanN = 0;
  let cleanUpToLastLevel = true;
  for (const r of rows) {
    if (r.limit === 'noisy neighbours') continue; // says nothing either way about the bridge
    if (!isClean(r)) {
      cleanUpToLastLevel = false;
      break;
    }
    largestCleanN = r.n;
  }
  const firstGeneratorLimitedN = rows.find((r) => r.limit === 'generator')?.n;
  const cleanLevels = rows.filter((r) => r.n > 0 && isClean(r)).map((r) => r.n);
  return { mode, rows, cpuFit, sysFit, rssFit, liveFit, cleanLevels, largestCleanN, cleanUpToLastLevel, firstGeneratorLimitedN, stoppedBecause };
}

// --- formatting ---------------------------------------------------------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–');

const HEADER = [
  'mode',
  'N',
  'bridge CPU % core (kernel)',
  'CPU/call %',
  'RSS MiB',
  'live heap+ext MiB',
  'loop p99 / max ms',
  'GC pauses: n, total / max ms',
  'in p50/p99/max ms',
  'out p50/p99/max ms',
  'late in/out',
  'dropped in/out',
  'turns / barge-ins',
  'silence fills',
  'gen CPU %',
  'gen loop p99 ms',
  'gen tick late p99 ms',
  'others on core 0 / 1 %',
  'limit',
];

function cells(r: Row, idle: Row | undefined): string[] {
  const w = r.window;
  const perCall = r.n > 0 && idle !== undefined ? (r.bridge.cpuPct - idle.bridge.cpuPct) / r.n : NaN;
  return [
    r.mode,
    String(r.n),
    `${f1(r.bridge.cpuPct)} (${f1(r.bridge.sysPct)})`,
    r.n > 0 ? f3(perCall) : '–',
    f1(r.bridge.rssKiB / 1024),
    f1(r.bridge.liveKiB / 1024),
    `${f2(r.bridge.loopP99Ms)} / ${f1(r.bridge.loopMaxMs)}`,
    `${r.bridge.gc.count}, ${f1(r.bridge.gc.totalMs)} / ${f1(r.bridge.gc.maxMs)}`,
    `${f2(w.inbound.p50Ms)} / ${f2(w.inbound.p99Ms)} / ${f1(w.inbound.maxMs)}`,
    `${f2(w.outbound.p50Ms)} / ${f2(w.outbound.p99Ms)} / ${f1(w.outbound.maxMs)}`,
    `${w.inbound.late} / ${w.outbound.late}`,
    `${w.inbound.dropped} / ${w.outbound.dropped}`,
    `${w.turns} / ${w.bargeIns}`,
    String(w.silenceFills),
    f1(w.generator.cpuPct),
    f2(w.generator.loopP99Ms),
    f2(w.generator.tickLateP99Ms),
    `${Math.round(r.othersPct[0])} / ${Math.round(r.othersPct[1])}`,
    r.limit === '' ? (isClean(r) ? 'ok' : 'over target') : r.limit,
  ];
}

function formatRow(r: Row): string {
  const w = r.window;
  return (
    `  N=${String(r.n).padStart(4)}  bridge ${f1(r.bridge.cpuPct).padStart(5)} % core (kernel ${f1(r.bridge.sysPct)}), RSS ${f1(r.bridge.rssKiB / 1024)} MiB, loop p99 ${f2(r.bridge.loopP99Ms)} max ${f1(r.bridge.loopMaxMs)} ms, GC ${r.bridge.gc.count}× ${f1(r.bridge.gc.totalMs)} ms max ${f1(r.bridge.gc.maxMs)} | ` +
    `in ${f2(w.inbound.p50Ms)}/${f2(w.inbound.p99Ms)}/${f1(w.inbound.maxMs)} ms (${w.inbound.frames} fr) | out ${f2(w.outbound.p50Ms)}/${f2(w.outbound.p99Ms)}/${f1(w.outbound.maxMs)} ms (${w.outbound.frames} fr) | ` +
    `late ${w.inbound.late}/${w.outbound.late} dropped ${w.inbound.dropped}/${w.outbound.dropped} fills ${w.silenceFills} | gen ${f1(w.generator.cpuPct)} % loop p99 ${f2(w.generator.loopP99Ms)} tick p99 ${f2(w.generator.tickLateP99Ms)} ms | others ${Math.round(r.othersPct[0])}/${Math.round(r.othersPct[1])} %` +
    (r.limit ? `  [${r.limit}]` : '')
  );
}

function table(rows: Row[]): string {
  const idleOf = (m: Mode) => rows.find((r) => r.mode === m && r.n === 0);
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i < 1 || i === HEADER.length - 1 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${cells(r, idleOf(r.mode)).join(' | ')} |`);
  return lines.join('\n');
}

function fitLine(m: ModeResult): string {
  const c = m.cpuFit;
  const s = m.rssFit;
  return (
    `${m.mode}: CPU = ${f3(c.intercept)} % + ${f3(c.slope)} % × N (R² ${f3(c.r2)}, ${c.points} levels) → ${Number.isFinite(c.slope) ? Math.floor(100 / c.slope) : '–'} calls per core, of which the kernel ${f3(m.sysFit.slope)} % × N; ` +
    `RSS = ${f1(s.intercept / 1024)} MiB + ${f1(s.slope)} KiB × N (R² ${f3(s.r2)}); ` +
    `live heap+external after GC = ${f1(m.liveFit.intercept / 1024)} MiB + ${f1(m.liveFit.slope)} KiB × N (R² ${f3(m.liveFit.r2)}); ` +
    `largest clean N ${m.largestCleanN}${m.cleanUpToLastLevel ? ' (clean at every level run: a lower bound)' : ''} (levels clean on their own: ${m.cleanLevels.length > 0 ? m.cleanLevels.join(', ') : 'none'})` +
    `${m.firstGeneratorLimitedN !== undefined ? `; generator-limited from N=${m.firstGeneratorLimitedN}` : ''}; stopped: ${m.stoppedBecause}`
  );
}

function verdicts(results: ModeResult[]): string[] {
  const out: string[] = [];
  const pcm = results.find((r) => r.mode === 'pcm24k');
  const mu = results.find((r) => r.mode === 'pcmu');
  const relay = results.find((r) => r.mode === 'relay');
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  if (pcm) {
    out.push(`${mark(pcm.cpuFit.slope <= 0.2)} pcm24k CPU per call ${f3(pcm.cpuFit.slope)} % of a core (target ≤ 0.200 %, ≥ 500 calls/core)`);
    out.push(
      `${mark(pcm.rssFit.slope * 1.024 < 200)} pcm24k memory per call ${f1(pcm.rssFit.slope)} KiB RSS slope (live heap+external after GC: ${f1(pcm.liveFit.slope)} KiB) (target < 200 KB)`,
    );
    out.push(
      `${mark(pcm.largestCleanN >= 300)} pcm24k p99 added latency < ${LATENCY_TARGET_MS} ms both ways with no frame dropped up to N=${pcm.largestCleanN} (target: every N the generator drives cleanly, and ≥ 300)`,
    );
  }
  if (pcm && mu) {
    const ratio = pcm.cpuFit.slope / mu.cpuFit.slope;
    out.push(`${mark(ratio <= 1.5)} pcm24k / pcmu CPU per call ${f2(ratio)}× (target ≤ 1.5×)`);
  }
  if (pcm && relay) {
    const ratio = pcm.cpuFit.slope / relay.cpuFit.slope;
    out.push(
      `${Number.isFinite(ratio) ? mark(ratio <= RELAY_RATIO_TARGET) : 'n/a (no fit for one of the modes)'} pcm24k CPU per call ÷ relay CPU per call (same run) ${f2(ratio)}× (target ≤ ${f2(RELAY_RATIO_TARGET)}×: the issue's 0.20 % against the reference passthrough's 0.25 %)`,
    );
  }
  if (mu && relay) out.push(`info pcmu CPU per call ÷ relay CPU per call (same run) ${f2(mu.cpuFit.slope / relay.cpuFit.slope)}×`);
  if (mu) out.push(`info pcmu CPU per call ${f3(mu.cpuFit.slope)} %, memory ${f1(mu.rssFit.slope)} KiB, clean up to N=${mu.largestCleanN}`);
  if (relay) {
    out.push(
      `info relay (reference passthrough) CPU per call ${f3(relay.cpuFit.slope)} % (the issue assumed ≈ 0.25 % on this kind of machine), of which the kernel ${f3(relay.sysFit.slope)} %; memory ${f1(relay.rssFit.slope)} KiB, clean up to N=${relay.largestCleanN}`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  const pinnedCpu = pinSelf('0');
  if (pinnedCpu === undefined) console.log('taskset unavailable: running unpinned (numbers will mix generator and bridge cost)');
  const load0 = loadavg();
  // The bridge runs from the working tree: say which commit, and whether src/ had uncommitted edits.
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  };
  const source = `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--', 'src']) === '' ? '' : ' + uncommitted src/ edits'}`;
  const startedAt = new Date();
  console.log(
    `bench:load ${QUICK ? '(quick) ' : ''}${REPLY_SHAPE === 'burst' ? '(burst answers) ' : ''}levels ${LEVELS.join(',')}; ${SETTLE_S} s settle + ${WINDOW_S} s window per level; modes ${MODES.join(', ')}; load average ${load0.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const results: ModeResult[] = [];
  for (const mode of MODES) results.push(await runMode(mode, pinnedCpu !== undefined));
  const load1 = loadavg();
  const rows = results.flatMap((r) => r.rows);
  const md = [
    '# Load bench (`npm run bench:load`)',
    '',
    `Run ${startedAt.toISOString()} on bridge source ${source}, node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length} cores; modes ${MODES.join(', ')}, one after the other; the process under test (the bridge, or the reference relay in mode relay) pinned to CPU 1 (${pinnedCpu !== undefined ? 'taskset' : 'NOT pinned'}), generator to CPU 0; the bridge's telemetry ${TELEMETRY ? 'ON (OTel preload, metrics on a Prometheus endpoint)' : 'off, as the bridge runs without OTEL_* settings'}. ` +
      `Levels ${LEVELS.join(', ')} calls; ${SETTLE_S} s settle + ${WINDOW_S} s measured window per level. Load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1.map((x) => x.toFixed(2)).join(' ')} at end (other work on the machine shares these cores).`,
    '',
    table(rows),
    '',
    'Fits (least squares over the levels not limited by the generator, a saturated bridge or noisy neighbours):',
    '',
    ...results.map((r) => `- ${fitLine(r)}`),
    '',
    'Verdicts:',
    '',
    ...verdicts(results).map((v) => `- ${v}`),
    '',
    'What each number is:',
    '',
    '- **mode**: `relay` is a reference passthrough relay of the common Twilio ↔ OpenAI Realtime sample kind, written for this bench (bench/load/reference-relay.ts): fastify + @fastify/websocket towards Twilio, `ws` upstream, every message JSON-parsed and re-serialised, μ-law passed through, a mark after each 60 ms of audio (every 3rd message when replies come as 20 ms deltas), `clear` at a barge-in; no signature checks, tickets, DSP, pacing, truncation, cancellation, limits or telemetry. The issue states its CPU target against such a relay (≈ 0.25 % of a core per call; pcm24k ≤ 0.20 %, i.e. ≤ 0.8× the relay), so it is measured in the same run, under the same generator, preload and pinning, and the verdict is the ratio. `pcmu` is the bridge with AUDIO_MODE=pcmu (passthrough, every protection on); `pcm24k` the bridge transcoding to PCM16 24 kHz for the AI. In the columns below, "the bridge" means whichever process is under test.',
    '- **bridge CPU % core**: utime+stime of the bridge process (all threads, /proc/<pid>/stat) over the window ÷ wall time; 100 % = the one core it is pinned to; in brackets, the kernel\'s part (stime): on loopback that is mostly the socket writes, which also carry the receiving side\'s TCP work. **CPU/call**: (CPU at N − CPU at N=0) ÷ N.',
    '- **RSS**: VmRSS of the bridge at the end of the window (/proc/<pid>/status). **live heap+ext**: V8 heapUsed + external (Buffers, typed arrays, WASM memory) right after a full GC in the bridge (the bench starts it with --expose-gc; the probe collects only at that moment). Calls are added, never removed, during a mode; the target is judged on the RSS slope.',
    '- **loop p99 / max**: the bridge\'s event-loop delay (perf_hooks.monitorEventLoopDelay, 10 ms resolution, the sampling interval subtracted) over the window, from a bench-only preload (bench/load/loop-probe.ts). **GC pauses**: the bridge\'s garbage-collection pauses over the window (PerformanceObserver \'gc\'): count, total and longest.',
    '- **in**: added latency per caller frame, from the generator writing a Twilio `media` frame to the generator reading the matching `input_audio_buffer.append` (the k-th append of a call is the k-th frame: the bridge forwards each 20 ms frame as one append, in order). **out**: from the peer writing a 20 ms `response.output_audio.delta` to Twilio\'s side having received all of that delta\'s audio in `media` frames (matched by byte count). ' + (REPLY_SHAPE === 'burst' ? 'Here replies come as 160 ms deltas at 8× real time (`--reply=burst`), as the service streams them: the bridge paces them out (≤ 200 ms lead), so each 20 ms of a reply is timed from when it was due to play at real time from the reply\'s first delta (audio that arrives ahead of that counts 0), and late means the caller would hear a gap.' : 'Replies stream in real time (one 20 ms delta per 20 ms), so the bridge\'s pacer (≤ 200 ms lead) never holds a frame back: the figure is processing + loopback + both event loops, never pacing.') + ' Both include the generator\'s own loop delay (shown in the gen columns).',
    '- **others on core 0 / 1**: CPU time that other processes (and the kernel) took on the generator\'s core and on the bridge\'s core during the window (/proc/stat per-CPU busy time minus the generator\'s or the bridge\'s own), % of a core. The machine is shared: where these are high, latency and loop-delay figures measure the neighbours as much as the bridge; CPU per call is counted in the bridge\'s own CPU time and is less affected.',
    '- **silence fills**: appends of silence the bridge inserted on its own because a call\'s media looked quiet for > 200 ms by its clock (the generator recognises them by size and a digitally silent tail; the caller\'s speech rides on a DC offset so it never has a zero sample). With media flowing every 20 ms they mean a stall of the bridge\'s or the generator\'s loop; they are not matched to caller frames.',
    '- **late**: frames whose added latency exceeded 20 ms (one frame period). **dropped**: frames sent more than 1 s earlier that never came out the other side, new during the window (reply audio the bridge discards on purpose at a barge-in is not counted).',
    `- **turns / barge-ins**: each call runs an 8 s turn cycle: caller speaks 1.5 s, the AI answers 4 s; one turn in ${BARGE_IN_EVERY} is interrupted 1.5 s into the answer (speech_started → the bridge clears Twilio, truncates, cancels; the relay only clears). Counted over the window, all calls.`,
    `- **gen CPU / loop / tick late**: the generator's own CPU (% of its core), event-loop delay p99, and how late its shared clock ran the 2 ms phase steps at p99. **limit** \`generator\` when gen CPU ≥ ${GEN_CPU_LIMIT_PCT} %, or when, with gen CPU ≥ ${GEN_BUSY_PCT} %, its tick lateness p99 exceeds ${GEN_LATE_LIMIT_MS} ms and half the measured p99 latency: from there the generator, not the bridge, bounds what is measured. \`bridge-saturated\`: the bridge used ≥ ${BRIDGE_SATURATED_PCT} % of its core. \`noisy neighbours\`: other processes took ≥ ${NOISY_NEIGHBOURS_PCT} % of either core during the window; such levels are shown but left out of the fits and of the clean-N verdict.`,
    '',
  ].join('\n');
  const json = {
    run: startedAt.toISOString(),
    source,
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    pinned: pinnedCpu !== undefined,
    loadAverage: { start: load0, end: load1 },
    levels: LEVELS,
    settleSeconds: SETTLE_S,
    windowSeconds: WINDOW_S,
    bargeInEvery: BARGE_IN_EVERY,
    replyShape: REPLY_SHAPE,
    results,
    verdicts: verdicts(results),
  };
  const outDir = new URL('./results/', import.meta.url);
  mkdirSync(outDir, { recursive: true });
  const suffix = (QUICK ? '-quick' : '') + (REPLY_SHAPE === 'burst' ? '-burst' : '');
  writeFileSync(new URL(`load${suffix}.json`, outDir), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(new URL(`load${suffix}.md`, outDir), md);
  console.log('\n' + table(rows));
  console.log('');
  for (const r of results) console.log(fitLine(r));
  console.log('');
  for (const v of verdicts(results)) console.log(v);
  console.log(`\nwrote bench/results/load${suffix}.json and load${suffix}.md`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
