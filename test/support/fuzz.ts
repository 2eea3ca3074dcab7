// Seeded random generation and mutation of JSON messages, for fuzz tests
// that must be reproducible: a failure prints its seed.

export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  next(): number {
    // xorshift32
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s / 0x100000000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/**
 * Length of the longest weird string: 1 KiB under the bridge's default 64 KiB
 * Twilio message limit (TWILIO_MAX_MESSAGE_BYTES), so a message carrying one
 * copy of it is still read and parsed. Messages over the limit are a separate,
 * deliberate case in the socket fuzz test, never an accident of the mix.
 */
export const LONG_STRING_LENGTH = 64 * 1024 - 1024;

const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1e308, NaN, '', ' ', '-5', '1e3', '٣', [], {}, [1, 'a'], { a: { b: {} } }, 'x'.repeat(LONG_STRING_LENGTH), '\u0000', '"}'];

/** A random mutation of a JSON-able value: drop, retype or blow up fields, recursively. */
export function mutate(rng: Rng, value: unknown, depth = 0): unknown {
  if (depth > 4 || rng.next() < 0.15) return rng.pick(WEIRD_VALUES);
  if (Array.isArray(value)) return value.map((v) => (rng.next() < 0.3 ? mutate(rng, v, depth + 1) : v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const roll = rng.next();
      if (roll < 0.1) continue;
      out[k] = roll < 0.4 ? mutate(rng, v, depth + 1) : v;
    }
    if (rng.next() < 0.1) out[rng.pick(['extra', 'event', 'type', '__proto__', 'constructor'])] = rng.pick(WEIRD_VALUES);
    return out;
  }
  if (typeof value === 'string') {
    const roll = rng.next();
    if (roll < 0.3) return value.slice(0, rng.int(value.length + 1));
    if (roll < 0.5) return value + rng.pick(['=', '!', '==', 'AAAA', '\n']);
    return rng.pick(WEIRD_VALUES);
  }
  return rng.pick(WEIRD_VALUES);
}

/** Turns a value into wire text, sometimes broken: truncated, doubled, or not JSON at all. */
export function toWireText(rng: Rng, value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  const roll = rng.next();
  if (roll < 0.08) return text.slice(0, rng.int(text.length));
  if (roll < 0.1) return text + text;
  if (roll < 0.12) return String.fromCharCode(...Array.from({ length: rng.int(64) }, () => rng.int(256)));
  return text;
}

export const CASES = Number(process.env.FUZZ_CASES ?? '') || 0;

export function randomString(rng: Rng, alphabet: string, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A frame's bytes for an assertion message, cut short. */
export function showBytes(buf: Buffer): string {
  const text = JSON.stringify(buf.toString('latin1'));
  return text.length > 300 ? `${text.slice(0, 300)}… (${buf.length} bytes)` : text;
}

const FLIPS = '"\\{}:,=0A/+ \u007f';

/**
 * Byte-level damage to a compact JSON frame, for fast-path parsers held to a
 * JSON path: truncation, flips, insertions (from `inserts`), deletions,
 * repeats, a same-meaning escape, non-ASCII and invalid UTF-8, or one of
 * `fields` retyped (quotes dropped, or its value swapped for null, true, an
 * object, an array, a repeat or a nested copy).
 */
export function damageJsonBytes(rng: Rng, input: Buffer, inserts: readonly string[], fields: readonly string[]): Buffer {
  let buf = input;
  const edits = 1 + rng.int(3);
  for (let e = 0; e < edits && buf.length > 0; e++) {
    const at = rng.int(buf.length + 1);
    const roll = rng.next();
    if (roll < 0.15) buf = buf.subarray(0, at);
    else if (roll < 0.35) {
      buf = Buffer.from(buf);
      buf[Math.min(at, buf.length - 1)] = rng.next() < 0.5 ? rng.int(256) : FLIPS.charCodeAt(rng.int(FLIPS.length));
    } else if (roll < 0.6) buf = Buffer.concat([buf.subarray(0, at), Buffer.from(rng.pick(inserts)), buf.subarray(at)]);
    else if (roll < 0.7) buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + 1 + rng.int(8)))]);
    else if (roll < 0.75) buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.max(0, at - rng.int(40)), at), buf.subarray(at)]);
    else if (roll < 0.85) {
      // An escape that means the same character: JSON reads the same value, the fast path must step aside.
      const text = buf.toString('latin1');
      const k = text.indexOf('"', at);
      if (k > 0 && k + 1 < text.length && /[A-Za-z0-9]/.test(text[k + 1]!)) {
        buf = Buffer.from(text.slice(0, k + 1) + '\\u00' + text.charCodeAt(k + 1).toString(16) + text.slice(k + 2), 'latin1');
      }
    } else if (roll < 0.9) buf = Buffer.concat([buf.subarray(0, at), Buffer.from([0xc3 + rng.int(30), rng.int(256)]), buf.subarray(at)]);
    else {
      const text = buf.toString('latin1');
      const field = rng.pick(fields);
      const swapped = text.replace(new RegExp(`"${field}":("[^"]*"|\\{[^}]*\\}|[^,}]*)`), (_m, v: string) =>
        `"${field}":${rng.pick([v.replace(/"/g, ''), 'null', 'true', '{}', '[]', '""', v + v, `{"${field}":${v}}`])}`,
      );
      buf = Buffer.from(swapped, 'latin1');
    }
  }
  return buf;
}

/** What a differential test of a byte-level fast path against its JSON path supplies. */
export interface DifferentialSubject {
  /** A frame in the fast path's layout (valid or not), as text. */
  randomFrame(rng: Rng): string;
  /** True when the JSON path accepts `text`. */
  isValid(text: string): boolean;
  /** The same valid frame in a layout the fast path must leave to JSON (reordered, spaced, escaped…). */
  reformat(rng: Rng, text: string): string;
  /** `damageJsonBytes`'s inserts and field names. */
  readonly inserts: readonly string[];
  readonly fields: readonly string[];
  /** A valid frame, parsed, for `mutate`. */
  readonly template: unknown;
  /** Feeds `buf` to both paths and asserts they agree; says whether the fast path took it and whether JSON accepted it. */
  agree(buf: Buffer, label: string): { fast: boolean; slowOk: boolean };
}

/**
 * Runs `n` cases from `seed` through `subject.agree`: random frames, valid ones
 * reformatted, byte-damaged ones, mutated JSON and raw binary, split at the
 * cumulative shares in `mix`; with `viewShare`, that share of cases is read
 * from a view at an offset into a larger buffer, as a socket read may hand
 * one over. Returns how the cases fell, for the caller to require each outcome.
 */
export function runDifferential(
  subject: DifferentialSubject,
  seed: number,
  n: number,
  mix: readonly [random: number, reformatted: number, damaged: number, mutated: number],
  viewShare = 0,
): { fastTaken: number; leftToJsonAndValid: number; rejected: number } {
  const rng = new Rng(seed);
  let fastTaken = 0;
  let leftToJsonAndValid = 0;
  let rejected = 0;
  for (let i = 0; i < n; i++) {
    const roll = rng.next();
    let buf: Buffer;
    if (roll < mix[0]) buf = Buffer.from(subject.randomFrame(rng));
    else if (roll < mix[1]) {
      const text = subject.randomFrame(rng);
      buf = Buffer.from(subject.isValid(text) ? subject.reformat(rng, text) : text);
    } else if (roll < mix[2]) buf = damageJsonBytes(rng, Buffer.from(subject.randomFrame(rng)), subject.inserts, subject.fields);
    else if (roll < mix[3]) buf = Buffer.from(toWireText(rng, mutate(rng, subject.template)));
    else buf = Buffer.from(Array.from({ length: rng.int(500) }, () => rng.int(256)));
    if (viewShare > 0 && rng.next() < viewShare) {
      const offset = 1 + rng.int(7);
      const big = Buffer.alloc(offset + buf.length + rng.int(4), 0x22);
      buf.copy(big, offset);
      buf = big.subarray(offset, offset + buf.length);
    }
    const { fast, slowOk } = subject.agree(buf, `seed ${seed} case ${i}`);
    if (fast) fastTaken++;
    else if (slowOk) leftToJsonAndValid++;
    else rejected++;
  }
  if (process.env.FUZZ_VERBOSE) console.log({ n, fastTaken, leftToJsonAndValid, rejected });
  return { fastTaken, leftToJsonAndValid, rejected };
}
