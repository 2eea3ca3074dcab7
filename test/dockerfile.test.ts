// The Dockerfile's contract, checked without a container engine:
// 1. static rules: multi-stage, slim current-LTS base, non-root USER, tini as
//    PID 1, HEALTHCHECK on /healthz, EXPOSE, nothing secret baked in, and a
//    .dockerignore that keeps dependencies, VCS data, env files and tests out;
// 2. emulation: the build context is assembled the way Docker would (through
//    .dockerignore), each stage's COPY/WORKDIR/ENV/RUN is replayed in its own
//    temporary root, and the runtime stage's ENTRYPOINT/CMD is started from
//    only what that stage copies. /healthz must answer 200, the HEALTHCHECK
//    command must pass, and SIGTERM must end the process cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './support/free-port.js';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Scratch space for the emulated image: RAM-backed when the host has it (two npm installs are I/O-bound). */
const SCRATCH = (() => {
  try {
    const probe = mkdtempSync('/dev/shm/bridge-probe-');
    rmSync(probe, { recursive: true });
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
})();
/** The oldest Node major accepted as "current LTS" (26 became Active LTS on 2026-10-28). */
const LTS_FLOOR = 26;

// ---------------------------------------------------------------- parsing

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}
interface Stage {
  readonly image: string;
  readonly name: string;
  readonly body: Instruction[];
}
interface Dockerfile {
  readonly globalArgs: Map<string, string>;
  readonly stages: Stage[];
}

function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  let buffer = '';
  let start = 0;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (buffer === '' && (trimmed === '' || trimmed.startsWith('#'))) return;
    if (buffer !== '' && trimmed.startsWith('#')) return; // comments inside a continuation
    if (buffer === '') start = i + 1;
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1)} `;
      return;
    }
    buffer += trimmed;
    const match = /^(\S+)\s*(.*)$/s.exec(buffer);
    if (match) instructions.push({ op: (match[1] as string).toUpperCase(), args: (match[2] as string).trim(), line: start });
    buffer = '';
  });
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `line ${ins.line}: unparseable FROM`);
      const image = (m[1] as string).replace(/\$\{(\w+)\}|\$(\w+)/g, (_s, a: string | undefined, b: string | undefined) => globalArgs.get((a ?? b) as string) ?? '');
      stages.push({ image, name: m[2] ?? String(stages.length), body: [] });
    } else if (stages.length === 0) {
      assert.equal(ins.op, 'ARG', `line ${ins.line}: only ARG may precede the first FROM`);
      const [k, v] = ins.args.split('=');
      globalArgs.set(k as string, v ?? '');
    } else {
      (stages[stages.length - 1] as Stage).body.push(ins);
    }
  }
  return { globalArgs, stages };
}

function execForm(args: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((s) => typeof s === 'string'), `expected exec (JSON) form: ${args}`);
  return parsed as string[];
}

const dockerfileText = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const dockerfile = parseDockerfile(dockerfileText);
const finalStage = dockerfile.stages[dockerfile.stages.length - 1] as Stage;
const ops = (stage: Stage, op: string): Instruction[] => stage.body.filter((i) => i.op === op);

// ---------------------------------------------------------------- .dockerignore

function readIgnore(): Array<{ negate: boolean; re: RegExp; raw: string }> {
  return readFileSync(join(REPO, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((raw) => {
      const negate = raw.startsWith('!');
      const pattern = posix.normalize((negate ? raw.slice(1) : raw).replace(/^\/+/, ''));
      const re = new RegExp(
        `^${pattern
          .split('**')
          .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
          .join('.*')}$`,
      );
      return { negate, re, raw };
    });
}

/** Docker semantics: a path is excluded when it or a parent directory matches; the last matching rule wins. */
function ignored(path: string, rules: ReturnType<typeof readIgnore>): boolean {
  const parts = path.split('/');
  let excluded = false;
  for (const rule of rules) {
    for (let i = 1; i <= parts.length; i++) {
      if (rule.re.test(parts.slice(0, i).join('/'))) {
        excluded = !rule.negate;
        break;
      }
    }
  }
  return excluded;
}

// ---------------------------------------------------------------- static rules

test('Dockerfile: multi-stage, final stage is a slim current-LTS Node image', () => {
  assert.ok(dockerfile.stages.length >= 2, 'multi-stage build');
  const m = /^node:(\d+)(?:[.\d]*)-(?:[a-z]+-)?slim$/.exec(finalStage.image);
  assert.ok(m, `final base ${finalStage.image} must be node:<major>[-<debian>]-slim`);
  const major = Number(m[1]);
  assert.ok(major >= LTS_FLOOR && major % 2 === 0, `Node ${major} is not the current LTS line (>= ${LTS_FLOOR}, even)`);
  const build = dockerfile.stages.find((s) => ops(s, 'RUN').some((r) => /npm run build/.test(r.args)));
  assert.ok(build, 'a stage runs npm run build');
  assert.ok(ops(build, 'RUN').some((r) => /\bnpm ci\b/.test(r.args)), 'the build stage installs from the lockfile');
  assert.notEqual(build, finalStage, 'building happens outside the final stage');
});

test('Dockerfile: the final stage holds only production deps, the built output and package.json', () => {
  for (const copy of ops(finalStage, 'COPY')) {
    const from = /--from=(\S+)/.exec(copy.args)?.[1];
    const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    const sources = parts.slice(0, -1);
    if (from === undefined) assert.deepEqual(sources, ['package.json'], `line ${copy.line}: only package.json comes from the context`);
    else assert.ok(sources.every((s) => /\/(node_modules|dist)$/.test(s)), `line ${copy.line}: copies ${sources.join(' ')}`);
  }
  const prodStageName = /--from=(\S+)/.exec(ops(finalStage, 'COPY').find((c) => /node_modules/.test(c.args))?.args ?? '')?.[1];
  const prodStage = dockerfile.stages.find((s) => s.name === prodStageName);
  assert.ok(prodStage && ops(prodStage, 'RUN').some((r) => /npm ci\b.*--omit=dev/.test(r.args)), 'node_modules come from an `npm ci --omit=dev` stage');
  assert.ok(!ops(finalStage, 'RUN').some((r) => /\bnpm\b/.test(r.args)), 'no npm in the final stage');
});

test('Dockerfile: non-root, tini as PID 1, healthcheck on /healthz, port, env, CMD', () => {
  const users = ops(finalStage, 'USER');
  assert.ok(users.length > 0, 'USER is set');
  const user = (users[users.length - 1] as Instruction).args.split(':')[0];
  assert.ok(user !== 'root' && user !== '0', `runs as ${user}`);
  const cmdLine = (ops(finalStage, 'CMD')[0] as Instruction).line;
  assert.ok((users[users.length - 1] as Instruction).line < cmdLine);

  const entry = execForm((ops(finalStage, 'ENTRYPOINT')[0] as Instruction).args);
  assert.match(entry[0] as string, /(^|\/)tini$/, 'tini forwards signals as PID 1');
  assert.ok(ops(finalStage, 'RUN').some((r) => /apt-get install .*\btini\b/.test(r.args)), 'tini is installed');

  const cmd = execForm((ops(finalStage, 'CMD')[0] as Instruction).args);
  assert.deepEqual(cmd, ['node', '--import', './dist/src/telemetry/preload.js', 'dist/src/server.js']);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, cmd.join(' '), 'npm start and the image start the same way');

  const health = ops(finalStage, 'HEALTHCHECK')[0];
  assert.ok(health, 'HEALTHCHECK present');
  assert.match(health.args, /\/healthz/);
  assert.match(health.args, /process\.env\.PORT\|\|8080/);
  assert.match(health.args, /CMD \[/, 'exec form: no shell needed');

  assert.ok(ops(finalStage, 'EXPOSE').some((e) => e.args.split(/\s+/).includes('8080')));
  const env = ops(finalStage, 'ENV').map((e) => e.args).join(' ');
  assert.match(env, /NODE_ENV=production/);
  assert.match(env, /PORT=8080/);
});

test('Dockerfile: no secrets baked in', () => {
  const all = dockerfile.stages.flatMap((s) => s.body);
  for (const ins of all.filter((i) => i.op === 'ENV' || i.op === 'ARG')) {
    assert.doesNotMatch(ins.args, /(TOKEN|SECRET|PASSWORD|API_KEY|AUTH|OPENAI_|TWILIO_)/i, `line ${ins.line}: ${ins.op} ${ins.args}`);
  }
  assert.doesNotMatch(dockerfileText, /\bek_[A-Za-z0-9]|sk-[A-Za-z0-9]{10}|AC[0-9a-f]{32}/, 'no key-shaped literals');
  assert.ok(!all.some((i) => i.op === 'COPY' && /(^|\s)\.(\s|$)/.test(i.args)), 'no `COPY . .` (would pull the whole context)');
});

test('.dockerignore keeps dependencies, VCS data, env files, tests and fixtures out', () => {
  const rules = readIgnore();
  for (const path of ['node_modules/fastify/package.json', '.git/HEAD', '.env', '.env.local', 'dist/src/server.js', 'test/config.test.ts', 'fixtures/caller-question.wav', 'npm-debug.log', 'src/devtools/demo.ts']) {
    assert.ok(ignored(path, rules), `${path} must not enter the build context`);
  }
  for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/server.ts', 'src/telemetry/preload.ts']) {
    assert.ok(!ignored(path, rules), `${path} is needed by the build`);
  }
});

// ---------------------------------------------------------------- emulation

function buildContext(): string {
  const rules = readIgnore();
  const ctx = mkdtempSync(join(SCRATCH, 'bridge-ctx-'));
  // What a fresh checkout holds (tracked + new files, never ignored ones), then .dockerignore on top.
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(REPO, f)) && !ignored(f, rules));
  for (const f of files) {
    mkdirSync(dirname(join(ctx, f)), { recursive: true });
    cpSync(join(REPO, f), join(ctx, f));
  }
  return ctx;
}

interface StageRun {
  readonly root: string;
  workdir: string;
  readonly env: Record<string, string>;
  readonly skipped: string[];
}

const ALLOWED_RUN: ReadonlyArray<RegExp> = [/^npm ci(\s|$)/, /^npm run build$/, /^npm prune(\s|$)/];
const SKIPPED_RUN: ReadonlyArray<RegExp> = [/^apt-get /, /^rm -rf \/var\/lib\/apt\/lists\/\*$/];

function runStage(stage: Stage, ctx: string, built: Map<string, StageRun>): StageRun {
  const run: StageRun = { root: mkdtempSync(join(SCRATCH, `bridge-stage-${stage.name}-`)), workdir: '/', env: {}, skipped: [] };
  const abs = (p: string): string => posix.resolve(run.workdir, p);
  for (const ins of stage.body) {
    if (ins.op === 'WORKDIR') {
      run.workdir = abs(ins.args);
      mkdirSync(join(run.root, run.workdir), { recursive: true });
    } else if (ins.op === 'ENV') {
      for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) run.env[m[1] as string] = m[2] as string;
    } else if (ins.op === 'COPY') {
      const from = /--from=(\S+)/.exec(ins.args)?.[1];
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const dest = abs(parts[parts.length - 1] as string);
      const srcRoot = from === undefined ? ctx : (built.get(from) as StageRun | undefined)?.root;
      assert.ok(srcRoot, `line ${ins.line}: unknown stage ${from}`);
      for (const src of parts.slice(0, -1)) {
        const source = from === undefined ? join(ctx, src) : join(srcRoot, src);
        assert.ok(existsSync(source), `line ${ins.line}: ${src} is not in ${from ?? 'the build context'}`);
        const isDir = statSync(source).isDirectory();
        const target = join(run.root, dest.endsWith('/') || parts.length > 2 || (!isDir && (parts[parts.length - 1] as string).endsWith('/')) ? posix.join(dest, isDir ? '' : posix.basename(src)) : dest);
        mkdirSync(isDir ? target : dirname(target), { recursive: true });
        cpSync(source, target, { recursive: true });
      }
    } else if (ins.op === 'RUN') {
      const command = ins.args.replace(/^(--\S+\s+)+/, '');
      for (const part of command.split('&&').map((c) => c.trim())) {
        if (SKIPPED_RUN.some((re) => re.test(part))) {
          run.skipped.push(part);
          continue;
        }
        assert.ok(ALLOWED_RUN.some((re) => re.test(part)), `line ${ins.line}: the contract test does not know how to replay \`${part}\``);
        const [bin, ...args] = part.split(/\s+/);
        // --prefer-offline: resolve from the local npm cache when it can (keeps the test fast and offline-friendly).
        const extra = part.startsWith('npm ci') ? ['--prefer-offline', '--loglevel=error'] : [];
        const result = spawnSync(bin as string, [...args, ...extra], {
          cwd: join(run.root, run.workdir),
          env: { ...process.env, ...run.env },
          encoding: 'utf8',
          timeout: 240_000,
        });
        assert.equal(result.status, 0, `line ${ins.line}: \`${part}\` failed:\n${result.stdout}\n${result.stderr}`);
      }
    }
  }
  return run;
}


test('emulated build: stages replay in a clean context, and the runtime stage starts the bridge from what it copies', { timeout: 300_000 }, async (t) => {
  const temps: string[] = [];
  try {
    let mark = Date.now();
    const lap = (what: string): void => {
      t.diagnostic(`${what}: ${Date.now() - mark} ms`);
      mark = Date.now();
    };
    const ctx = buildContext();
    temps.push(ctx);
    lap('context');
    assert.ok(!existsSync(join(ctx, 'node_modules')) && !existsSync(join(ctx, '.git')) && !existsSync(join(ctx, 'test')), 'context is clean');

    const built = new Map<string, StageRun>();
    for (const stage of dockerfile.stages) {
      const began = Date.now();
      const run = runStage(stage, ctx, built);
      t.diagnostic(`stage ${stage.name}: ${Date.now() - began} ms`);
      temps.push(run.root);
      built.set(stage.name, run);
    }
    const runtime = built.get(finalStage.name) as StageRun;
    assert.deepEqual(runtime.skipped.filter((s) => s.startsWith('apt-get install')), ['apt-get install -y --no-install-recommends tini'], 'only tini comes from apt');
    const app = join(runtime.root, runtime.workdir);
    assert.ok(existsSync(join(app, 'dist/src/telemetry/preload.js')), 'the built preload is in the image');
    assert.ok(!existsSync(join(app, 'src')) && !existsSync(join(app, 'node_modules/typescript')) && !existsSync(join(app, 'node_modules/tsx')), 'no sources and no dev dependencies in the image');

    lap('stages');
    // The telemetry preload must load from production dependencies alone.
    const probe = spawnSync(process.execPath, ['--import', './dist/src/telemetry/preload.js', '-e', 'process.exit(0)'], { cwd: app, env: { PATH: process.env.PATH, ...runtime.env }, encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.stderr);
    assert.match(probe.stdout, /"msg":"telemetry: off/);

    if (!existsSync(join(app, 'dist/src/server.js'))) {
      t.skip('src/server.ts does not exist yet: the start/healthz/SIGTERM part of the contract runs once it does');
      return;
    }

    const entry = execForm((ops(finalStage, 'ENTRYPOINT')[0] as Instruction).args);
    const cmd = execForm((ops(finalStage, 'CMD')[0] as Instruction).args);
    // tini is not on this host; PID-1 signal forwarding is what it adds, and the static test pins it.
    const argv = existsSync(entry[0] as string) ? [...entry, ...cmd] : cmd;
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      ...runtime.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: 'https://voice.example.com',
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'test-auth-token-0123456789',
      OPENAI_API_KEY: 'sk-test-not-a-real-key',
      OPENAI_BASE_URL: 'http://127.0.0.1:9',
    };
    const child = spawn(argv[0] === 'node' ? process.execPath : (argv[0] as string), argv.slice(1).map((a) => (a === 'node' ? process.execPath : a)), {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let status = 0;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && status !== 200) {
        status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(status, 200, `GET /healthz never answered 200. Output:\n${output}`);
      lap('start to healthy');

      const health = /CMD (\[.*\])$/s.exec((ops(finalStage, 'HEALTHCHECK')[0] as Instruction).args)?.[1] as string;
      const [, ...hcArgs] = execForm(health);
      const hc = spawnSync(process.execPath, hcArgs, { cwd: app, env, encoding: 'utf8', timeout: 5_000 });
      assert.equal(hc.status, 0, `HEALTHCHECK command failed: ${hc.stderr}`);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
    if (code === 'timeout') child.kill('SIGKILL');
    lap('SIGTERM to exit');
    assert.equal(code, 0, `SIGTERM must drain and exit 0. Output:\n${output}`);
  } finally {
    const began = Date.now();
    // `rm -rf` is several times faster than rmSync on two node_modules trees.
    const rm = spawnSync('rm', ['-rf', ...temps]);
    if (rm.status !== 0) for (const dir of temps) rmSync(dir, { recursive: true, force: true });
    t.diagnostic(`cleanup: ${Date.now() - began} ms`);
  }
});
