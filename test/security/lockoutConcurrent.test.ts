import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

// Key guessing in parallel: the lock-out allows maxInvalidPerUser wrong keys per window. Requests
// sent at once must not all pass the lock check before any of them is counted: then a burst (or
// a script on several connections, through several web processes) sends Render as many keys as it
// has requests in flight, and the lock-out bounds nothing.
// Serial: both count Render's refusals.
let stack: Stack;
test.before(async () => {
  stack = await startStack({
    env: { TRUST_PROXY: 'true' },
    appOptions: {
      security: {
        limits: {
          keySetup: { points: 1000, durationSec: 60 },
          keySetupPerUser: { points: 1000, durationSec: 60 },
          invalidKeys: { maxInvalid: 3, windowSec: 60, lockSec: 30, maxInvalidPerUser: 4 },
        },
      },
    },
  });
  for (let i = 0; i < 100 && (await fetch(`${stack.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
});
test.after.always(async () => { await stack?.close(); });

const rejectedByRender = () => stack.render.calls.filter((c) => c.accountId === null && c.status === 401).length;

test.serial('wrong keys sent at once: no more reach Render than the lock-out allows, the rest are locked_out', async (t) => {
  const agent = stack.agent({ 'x-forwarded-for': '203.0.113.77' });
  await stack.signIn(agent, 'burstguesser');
  const before = rejectedByRender();
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) =>
    agent.post('/api/render/setup', { api_key: `rnd_burstguess${String(i).padStart(2, '0')}${'z'.repeat(20)}` })));
  const sent = rejectedByRender() - before;
  t.true(sent <= 4, `${sent} wrong keys were sent to Render; the lock-out allows 4`);
  t.true(answers.filter((r) => r.status === 429).length >= 12, 'the others are refused before Render is asked');
  t.true(answers.every((r) => r.status === 400 || (r.status === 429 && r.json.error.code === 'locked_out')), JSON.stringify(answers.map((r) => r.status)));
  const validKey = `rnd_burstvalid${'q'.repeat(20)}`;
  stack.render.addAccount({ apiKey: validKey });
  t.is((await agent.post('/api/render/setup', { api_key: validKey })).status, 429, 'the user is locked');
});

test.serial('a correct key sent beside wrong ones is still accepted while tries are left, and clears the count', async (t) => {
  const agent = stack.agent({ 'x-forwarded-for': '203.0.113.78' });
  await stack.signIn(agent, 'burstright');
  const validKey = `rnd_burstright${'q'.repeat(20)}`;
  stack.render.addAccount({ apiKey: validKey });
  const [right, wrong] = await Promise.all([
    agent.post('/api/render/setup', { api_key: validKey }),
    agent.post('/api/render/setup', { api_key: `rnd_burstwrong${'z'.repeat(20)}` }),
  ]);
  t.is(right.status, 200);
  t.is(wrong.status, 400);
});

test.serial('a key Render could not judge (down) gives its try back: an outage does not lock anyone out', async (t) => {
  const agent = stack.agent({ 'x-forwarded-for': '203.0.113.79' });
  await stack.signIn(agent, 'outagewaiter');
  const apiKey = `rnd_outagewaiter${'q'.repeat(20)}`;
  stack.render.addAccount({ apiKey });
  stack.render.setFault({ route: '/owners', kind: 'status', status: 503, apiKey });
  try {
    for (let i = 0; i < 6; i++) t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 503);
  } finally {
    stack.render.clearFaults();
  }
  const wrong = await agent.post('/api/render/setup', { api_key: `rnd_outagewrong${'z'.repeat(20)}` });
  t.is(wrong.status, 400);
  t.regex(wrong.json.error.message, / 2 more tries/, 'the outage used none of the tries (the wrong key has 2 left)');
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
});

test.serial('a valid key used by many requests at once (X-Render-Api-Key, parallel CI jobs) is never locked out', async (t) => {
  stack.github.addUser({ id: 9377, login: 'parallelci' });
  const token = stack.github.issuePat('parallelci');
  const apiKey = `rnd_parallelci${'q'.repeat(20)}`;
  stack.render.addAccount({ apiKey });
  const call = () => fetch(`${stack.url}/api/render/status`, { headers: { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey, 'x-forwarded-for': '203.0.113.80' } });
  t.is((await call()).status, 200);
  const statuses = (await Promise.all(Array.from({ length: 12 }, call))).map((r) => r.status);
  t.deepEqual(statuses, statuses.map(() => 200));
});
