// Owns the CLI's little script language: `--wav PATH` (say it, then wait for
// the reply to finish) and `--step SPEC` flags, read in command-line order
// into CallSteps. Pure; main.ts does the rest.

import type { CallStep } from './script.js';

/** How long a --wav step waits for the reply to finish. */
export const WAV_REPLY_TIMEOUT_MS = 20_000;

export function parseStep(spec: string): CallStep {
  const [kind = '', ...rest] = spec.split(':');
  const arg = rest.join(':');
  const num = (s: string | undefined, what: string): number => {
    const n = Number(s);
    if (s === undefined || s === '' || !Number.isFinite(n) || n < 0) throw new Error(`--step ${spec}: ${what} must be a number of ms`);
    return n;
  };
  switch (kind) {
    case 'say':
      return { say: arg };
    case 'silence':
      return { silenceMs: num(arg, 'silence') };
    case 'wait': {
      const [what, timeout] = rest;
      if (what !== 'audio' && what !== 'done') throw new Error(`--step ${spec}: wait:audio or wait:done`);
      return {
        waitFor: what === 'audio' ? 'assistantAudio' : 'assistantDone',
        ...(timeout !== undefined ? { timeoutMs: num(timeout, 'timeout') } : {}),
      };
    }
    case 'barge': {
      const [after, ...path] = rest;
      return { bargeIn: num(after, 'barge-in delay'), say: path.join(':') };
    }
    case 'dtmf':
      return { dtmf: arg };
    case 'hangup':
      return { hangup: true };
    default:
      throw new Error(`--step ${spec}: unknown step kind "${kind}"`);
  }
}

/** --wav and --step in command-line order. */
export function scriptFromArgv(argv: readonly string[]): CallStep[] {
  const steps: CallStep[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag !== '--wav' && flag !== '--step') continue;
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--wav') steps.push({ say: value }, { waitFor: 'assistantDone', timeoutMs: WAV_REPLY_TIMEOUT_MS });
    else steps.push(parseStep(value));
  }
  return steps;
}
