// Owns building the WebAssembly SIMD FIR kernel: compiles fir-kernel.as.ts
// with AssemblyScript into build/wasm/fir-kernel.wasm (gitignored), and, when
// given --dist, also into dist/build/wasm/ so the compiled service (and its
// container image, which ships dist/) finds it next to dist/src/audio.
// Writes atomically (temp file + rename): concurrent test runs may be loading
// the binary. Skips the compile when the binary is newer than its sources.
// Plain .mjs so it runs with node alone, before anything is compiled.

import { mkdirSync, renameSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const source = join(here, 'fir-kernel.as.ts');
const out = join(root, 'build', 'wasm', 'fir-kernel.wasm');
const distOut = join(root, 'dist', 'build', 'wasm', 'fir-kernel.wasm');

const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};

function writeAtomic(path, bytes) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

if (mtime(out) < Math.max(mtime(source), mtime(fileURLToPath(import.meta.url)))) {
  const { default: asc } = await import('assemblyscript/asc');
  let binary;
  const { error, stderr } = await asc.main(
    [source, '--outFile', 'fir-kernel.wasm', '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd',
     // Fixed memory (5 pages): the loader's typed-array views must never be detached by a grow.
     '--initialMemory', '5', '--maximumMemory', '5', '--use', 'abort='],
    {
      writeFile(name, contents) {
        if (name.endsWith('.wasm')) binary = contents;
      },
    },
  );
  if (error || !binary) {
    process.stderr.write(stderr.toString());
    throw new Error(`AssemblyScript build of ${source} failed: ${error?.message ?? 'no output'}`);
  }
  writeAtomic(out, binary);
  console.log(`built ${out} (${binary.length} bytes)`);
}
if (process.argv.includes('--dist')) {
  const tmp = `${distOut}.${process.pid}.tmp`;
  mkdirSync(dirname(distOut), { recursive: true });
  copyFileSync(out, tmp);
  renameSync(tmp, distOut);
}
