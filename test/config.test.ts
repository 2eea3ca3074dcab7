import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config/config.js';

const base = {
  PUBLIC_URL: 'https://voice.example.com',
  TWILIO_ACCOUNT_SID: 'AC' + '0123456789abcdef'.repeat(2),
  TWILIO_AUTH_TOKEN: 'test-auth-token-not-real-0001',
  OPENAI_API_KEY: 'sk-test-not-a-real-key',
};

test('defaults fill every optional variable', () => {
  const c = loadConfig(base);
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.publicUrl, 'https://voice.example.com');
  assert.equal(c.openai.baseUrl, 'https://api.openai.com');
  assert.equal(c.openai.model, 'gpt-realtime');
  assert.equal(c.audioMode, 'pcm24k');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.resilience.replyTimeoutMs, 6000);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.openai));
});

test('VAD_* settings: the defaults, and decimals for the threshold', () => {
  assert.deepEqual(loadConfig(base).agent.turnDetection, { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 });
  for (const [raw, value] of [['0.65', 0.65], ['0.95', 0.95], ['0.1', 0.1], ['.3', 0.3], ['0.50', 0.5]] as const) {
    assert.equal(loadConfig({ ...base, VAD_THRESHOLD: raw }).agent.turnDetection.threshold, value, raw);
  }
});

test('AI_REPLY_TIMEOUT_MS=0 turns the answer clock off', () => {
  assert.equal(loadConfig({ ...base, AI_REPLY_TIMEOUT_MS: '0' }).resilience.replyTimeoutMs, 0);
});

test('a trailing slash on PUBLIC_URL is normalised away', () => {
  assert.equal(loadConfig({ ...base, PUBLIC_URL: 'https://voice.example.com/' }).publicUrl, 'https://voice.example.com');
});

const bad: Array<[string, Record<string, string | undefined>, RegExp]> = [
  ['PUBLIC_URL', { PUBLIC_URL: undefined }, /PUBLIC_URL: is required/],
  ['PUBLIC_URL', { PUBLIC_URL: 'http://voice.example.com' }, /PUBLIC_URL: expected an https URL/],
  ['PUBLIC_URL', { PUBLIC_URL: 'not a url' }, /PUBLIC_URL: expected an absolute URL/],
  ['PUBLIC_URL', { PUBLIC_URL: 'https://voice.example.com/bridge' }, /origin only/],
  ['TWILIO_AUTH_TOKEN', { TWILIO_AUTH_TOKEN: '' }, /TWILIO_AUTH_TOKEN: is required/],
  ['TWILIO_ACCOUNT_SID', { TWILIO_ACCOUNT_SID: 'AC123' }, /TWILIO_ACCOUNT_SID: expected AC/],
  ['OPENAI_API_KEY', { OPENAI_API_KEY: undefined }, /OPENAI_API_KEY: is required/],
  ['PORT', { PORT: '80a' }, /PORT: expected a whole number/],
  ['PORT', { PORT: '70000' }, /PORT: expected a whole number/],
  ['AUDIO_MODE', { AUDIO_MODE: 'opus' }, /AUDIO_MODE: expected one of pcm24k, pcmu/],
  ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, /LOG_LEVEL: expected one of/],
  ['OPENAI_BASE_URL', { OPENAI_BASE_URL: 'ftp://x' }, /OPENAI_BASE_URL: expected an http or https URL/],
  ['TRUST_PROXY', { TRUST_PROXY: 'true' }, /TRUST_PROXY: true would let any client choose its address/],
  ['TRUST_PROXY', { TRUST_PROXY: '999.1.1.1' }, /TRUST_PROXY: "999.1.1.1" is not an IP address or CIDR/],
  ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.0/99' }, /TRUST_PROXY: "10.0.0.0\/99" is not an IP address or CIDR/],
  ['TRUST_PROXY', { TRUST_PROXY: '10.0.0.1, proxy.local' }, /TRUST_PROXY: "proxy.local" is not an IP address or CIDR/],
  ['TRUST_PROXY', { TRUST_PROXY: '100' }, /TRUST_PROXY: a hop count is at most 10/],
  ['FALLBACK_TWIML', { FALLBACK_TWIML: '<Dial>+1555</Dial>' }, /FALLBACK_TWIML: expected a TwiML document/],
  ['AI_REPLY_TIMEOUT_MS', { AI_REPLY_TIMEOUT_MS: '500' }, /AI_REPLY_TIMEOUT_MS: expected 0 \(off\) or 1000 to 120000/],
  ['AI_REPLY_TIMEOUT_MS', { AI_REPLY_TIMEOUT_MS: '-1' }, /AI_REPLY_TIMEOUT_MS: expected a whole number/],
  ['VAD_THRESHOLD', { VAD_THRESHOLD: '1' }, /VAD_THRESHOLD: expected a number from 0.1 to 0.95/],
  ['VAD_THRESHOLD', { VAD_THRESHOLD: '0' }, /VAD_THRESHOLD: expected a number from 0.1 to 0.95/],
  ['VAD_THRESHOLD', { VAD_THRESHOLD: 'high' }, /VAD_THRESHOLD: expected a number from 0.1 to 0.95/],
  ['VAD_THRESHOLD', { VAD_THRESHOLD: '-0.2' }, /VAD_THRESHOLD: expected a number from 0.1 to 0.95/],
  ['VAD_THRESHOLD', { VAD_THRESHOLD: '0.5e0' }, /VAD_THRESHOLD: expected a number/],
  ['VAD_SILENCE_DURATION_MS', { VAD_SILENCE_DURATION_MS: '50' }, /VAD_SILENCE_DURATION_MS: expected a whole number from 100 to 3000/],
  ['VAD_SILENCE_DURATION_MS', { VAD_SILENCE_DURATION_MS: '5000' }, /VAD_SILENCE_DURATION_MS: expected a whole number from 100 to 3000/],
  ['VAD_PREFIX_PADDING_MS', { VAD_PREFIX_PADDING_MS: '1500' }, /VAD_PREFIX_PADDING_MS: expected a whole number from 0 to 1000/],
];

for (const [variable, patch, message] of bad) {
  test(`a bad ${variable} stops start-up with one line naming it (${JSON.stringify(patch)})`, () => {
    assert.throws(
      () => loadConfig({ ...base, ...patch }),
      (err: unknown) => err instanceof ConfigError && err.variable === variable && message.test(err.message) && !err.message.includes('\n'),
    );
  });
}

test('error messages never echo a secret value', () => {
  try {
    loadConfig({ ...base, TWILIO_AUTH_TOKEN: 'x9q7z' });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.ok(!err.message.includes('x9q7z'));
  }
});
