import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

// The invalid-key lock-out as a team's CI meets it (found by a probe of the limits): the same revoked key sent by
// parallel jobs is one wrong key, not guesses. Small allowances: a wrong key locks after 3, a user after 4 wrong keys.
let stack: Stack;
const limits = {
  signInStart: { points: 1000, durationSec: 60 },
  keySetup: { points: 1000, durationSec: 60 },
  keySetupPerUser: { points: 1000, durationSec: 60 },
  invalidKeys: { maxInvalid: 3, windowSec: 60, lockSec: 60, maxInvalidPerUser: 4 },
};
test.before(async () => { stack = await startStack({ appOptions: { security: { limits } } }); });
test.after.always(async () => { await stack?.close(); });

function validKey(tag: string): string {
  const apiKey = `rnd_${tag}${'q'.repeat(24)}`;
  stack.render.addAccount({ apiKey });
  return apiKey;
}
const rejectedByRender = () => stack.render.calls.filter((c) => c.accountId === null && c.status === 401).length;

test.serial('a key revoked on Render, still sent by parallel CI jobs, does not lock the user out of connecting the new key', async (t) => {
  // Accepted lately, the key's requests claim no try, so the whole burst reached Render and each rejection counted
  // for the user: the next key setup, with the new correct key, was 429 locked_out for the lock's whole time.
  const agent = stack.agent();
  await stack.signIn(agent, 'rotator');
  const old = validKey('rotatorold');
  const token = stack.github.issueToken('rotator');
  const ci = () => fetch(`${stack.url}/api/render/status`, { headers: { authorization: `Bearer ${token}`, 'x-render-api-key': old } });
  t.is((await ci()).status, 200, 'the key is accepted once');
  stack.render.revokeKey(old);
  const before = rejectedByRender();
  const burst = await Promise.all(Array.from({ length: 8 }, () => ci().then((r) => r.status)));
  t.true(burst.every((s) => s === 400 || s === 429), burst.join(' '));
  t.true(rejectedByRender() - before > limits.invalidKeys.maxInvalidPerUser, 'the burst reached Render past the per-user allowance (the case this is about)');
  const setup = await agent.post('/api/render/setup', { api_key: validKey('rotatornew') });
  t.is(setup.status, 200, `the new, correct key: ${setup.text}`);
});
