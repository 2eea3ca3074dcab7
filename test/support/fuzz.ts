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

const WEIRD_VALUES: unknown[] = [null, true, false, 0, -1, 1e308, NaN, '', ' ', '-5', '1e3', '٣', [], {}, [1, 'a'], { a: { b: {} } }, 'x'.repeat(70_000), '\u0000', '"}'];

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
