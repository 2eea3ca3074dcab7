// Graceful shutdown: readiness turns 503 at once, new callers get the
// fallback TwiML, live calls run on until the drain deadline and are then
// handed to the fallback over REST; then the server closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SimulatedCall } from '../src/devtools/call-simulator/index.js';
import { startRealtimePeer } from '../src/devtools/realtime-peer/index.js';
import { TwilioApiStandIn } from '../src/devtools/twilio-api/twilio-api-stand-in.js';
import { ACCOUNT_SID, API_KEY, AUTH_TOKEN, PUBLIC_URL, callSid, eventually, postWebhook, startBridge, webhookFields } from './support/bridge-harness.js';

test('SIGTERM drain: readyz 503, new calls to the fallback, live calls handed off at the deadline', async () => {
  const peer = await startRealtimePeer({ apiKey: API_KEY });
  const twilioApi = await TwilioApiStandIn.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  const bridge = await startBridge({ OPENAI_BASE_URL: peer.baseUrl, TWILIO_API_BASE_URL: twilioApi.baseUrl, DRAIN_TIMEOUT_MS: '1500' });
  try {
    const sids = ['CA' + randomBytes(16).toString('hex'), 'CA' + randomBytes(16).toString('hex')];
    const sims = sids.map(
      (sid) =>
        new SimulatedCall({ bridgeUrl: bridge.url, publicUrl: PUBLIC_URL, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID, callSid: sid, script: [{ silenceMs: 8000 }, { hangup: true }] }),
    );
    twilioApi.onUpdate((u) => sims[sids.indexOf(u.callSid)]?.hangup('Twilio: TwiML replaced'));
    const reports = sims.map((s) => s.run());
    await eventually(() => bridge.calls.size === 2, 3000, 'two live calls');
    // One caller hangs up on its own during the drain.
    setTimeout(() => sims[0]!.hangup('caller hung up'), 300);

    const t0 = Date.now();
    const drained = bridge.drain();
    const ready = await fetch(`${bridge.url}/readyz`);
    assert.equal(ready.status, 503, 'readyz turns 503 at once');
    assert.equal((await fetch(`${bridge.url}/healthz`)).status, 200, 'still alive');
    const newCall = await postWebhook(bridge.url, webhookFields(callSid()));
    assert.equal(newCall.status, 200, 'never a 5xx to Twilio');
    assert.ok(!newCall.body.includes('<Stream'), 'no stream for a new call while draining');
    assert.match(newCall.body, /<Say>.*<\/Say><Hangup\/>/);

    await drained;
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 1400, `live calls ran until the deadline (${elapsed} ms)`);
    const [first, second] = await Promise.all(reports);
    assert.equal(first!.endReason, 'caller hung up');
    assert.equal(second!.endReason, 'Twilio: TwiML replaced', 'the remaining call was handed to the fallback, not cut');
    assert.deepEqual(twilioApi.updates.map((u) => u.callSid), [sids[1]]);
    assert.equal(bridge.calls.size, 0);
  } finally {
    await bridge.close().catch(() => {});
    await peer.close();
    await twilioApi.close();
  }
});
