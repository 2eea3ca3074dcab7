// Summarises a sampling heap profile of the bridge, as written by
// `npm run bench:load -- --heap-profile=DIR`: the bytes allocated during one
// measured window that were still alive at its end, which is what outlives
// the young generation and later costs a mark-compact. Two tables: by the
// function that allocated, and by the nearest frame in the project's own
// code (src/) on the allocation's stack, so a library's allocation is
// charged to the bridge code that asked for it.
//
//   npx tsx bench/heap-summary.ts DIR/bridge-pcm24k-200.heapprofile [--top=25] [--calls=200] [--seconds=10]

import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: ProfileNode[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (file === undefined) throw new Error('usage: tsx bench/heap-summary.ts FILE [--top=25] [--calls=N] [--seconds=S]');
const option = (name: string, fallback: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const top = option('top', 25);
const calls = option('calls', 0);
const seconds = option('seconds', 10);

const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode }).head;

const where = (f: CallFrame): string => {
  const path = f.url.replace(/^file:\/\//, '');
  const at = path.lastIndexOf('/src/');
  const short = at >= 0 ? path.slice(at + 1) : path.includes('node_modules/') ? path.slice(path.lastIndexOf('node_modules/') + 13) : path;
  return `${f.functionName || '(anonymous)'} ${short === '' ? '(native)' : `${short}:${f.lineNumber + 1}`}`;
};
const isOurs = (f: CallFrame): boolean => f.url.includes('/src/') && !f.url.includes('node_modules');

const bySelf = new Map<string, number>();
const byOurs = new Map<string, number>();
let total = 0;
const walk = (node: ProfileNode, stack: CallFrame[]): void => {
  const path = [...stack, node.callFrame];
  if (node.selfSize > 0) {
    total += node.selfSize;
    const self = where(node.callFrame);
    bySelf.set(self, (bySelf.get(self) ?? 0) + node.selfSize);
    const ours = [...path].reverse().find(isOurs);
    const key = ours === undefined ? '(no project frame)' : where(ours);
    byOurs.set(key, (byOurs.get(key) ?? 0) + node.selfSize);
  }
  for (const child of node.children) walk(child, path);
};
walk(head, []);

const kib = (bytes: number): string => (bytes / 1024).toFixed(1);
const table = (title: string, rows: Map<string, number>): void => {
  console.log(`\n${title}`);
  console.log('KiB alive | share | per call per s (B) | where');
  for (const [key, bytes] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const rate = calls > 0 ? (bytes / calls / seconds).toFixed(0) : '–';
    console.log(`${kib(bytes).padStart(9)} | ${((100 * bytes) / total).toFixed(1).padStart(4)} % | ${rate.padStart(18)} | ${key}`);
  }
};
console.log(`${file}: ${kib(total)} KiB allocated in the window and alive at its end (sampled)`);
table('By allocating function', bySelf);
table('By nearest project frame (src/)', byOurs);
