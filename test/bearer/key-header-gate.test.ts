import test from 'ava';
import { startAnomalyStack, type AnomalyStack } from '../telemetry/support.js';
import { Agent } from '../helpers/agent.js';

// A request with X-Render-Api-Key that the anomaly gate refuses is not checked with Render (the gate's
// refusal comes first: test/telemetry/escape.test.ts). Bearer auth decided that before the session; the
// gate (server/telemetry/middleware.ts, after it) decided again, and meanwhile it had put the request on
// the token session. When the two decisions differed (the minute ended, or a throttle lifted, in
// between) the request ran on the key the token session had stored, not on the one it sent: another
// Render account. The gate now answers with bearer auth's decision, and such a request has no session.
// Serial: one manual clock.

let s: AnomalyStack;
test.before(async () => { s = await startAnomalyStack(); });
test.after.always(async () => { await s?.close(); });

test.serial('a throttled request with X-Render-Api-Key refused by bearer auth as the minute ends is refused, never run on the stored key', async (t) => {
  const login = 'gaterace18';
  const userId = 990_101;
  s.stack.github.addUser({ id: userId, login });
  const token = s.stack.github.issueToken(login);
  const stored = `rnd_${login}one${'a'.repeat(24)}`;
  const sent = `rnd_${login}two${'b'.repeat(24)}`;
  s.stack.render.addAccount({ apiKey: stored, workspaces: [{ name: 'stored-key ws' }] });
  const sentAccount = s.stack.render.addAccount({ apiKey: sent, workspaces: [{ name: 'sent-key ws' }] });
  const api = new Agent(s.stack.url, { authorization: `Bearer ${token}` });
  t.is((await api.post('/api/render/setup', { api_key: stored })).status, 200);

  const deps = s.stack.web.deps;
  const now = s.clock.now();
  await deps.telemetry.store.set(userId, { state: 'throttled', until: now + 10 * 60_000, since: now, strikes: 1, signal: 'requests', observed: 100, threshold: 40, login });
  await s.nextMinute();
  // ANOMALY_THROTTLE_PER_MINUTE is 20 (test/telemetry/support.ts): this minute's allowance spent.
  for (let i = 0; i < 20; i++) t.is((await api.get('/api/session')).status, 200);
  await deps.telemetry.recorder.flush();

  // The minute ends right after bearer auth read the allowance: no I/O of the request lies between its
  // decision and the gate's to hold from outside, so the clock moves when that read returns.
  const spent = deps.telemetry.throttleSpent;
  deps.telemetry.throttleSpent = async (u, m) => {
    const n = await spent(u, m);
    if (u === userId) s.clock.set((m + 1) * 60_000 + 5);
    return n;
  };
  const sentKeyCalls = () => s.stack.render.calls.filter((c) => c.accountId === sentAccount.id).length;
  const before = sentKeyCalls();
  try {
    const res = await api.get('/api/render/status', { headers: { 'x-render-api-key': sent } });
    t.false(res.text.includes('stored-key ws'), `answered with the token session's stored key: ${res.status} ${res.text}`);
    t.is(res.status, 429, res.text);
    t.is(res.json.error.code, 'rate_limited');
  } finally {
    deps.telemetry.throttleSpent = spent;
  }
  t.is(sentKeyCalls(), before, 'the key it sent was not checked with Render');
  // Refused requests are counted (a script hammering through its 429s stays anomalous): this one in the new minute.
  await deps.telemetry.recorder.flush();
  const minute = Math.floor(s.clock.now() / 60_000);
  t.is(await s.stack.redis.client.hget(deps.telemetry.keys.minutes(userId, Math.floor(minute / 60)), `${minute % 60}.n`), '1');
});

test.serial('a blocked request with X-Render-Api-Key is refused as blocked, and counted', async (t) => {
  const login = 'gateblock18';
  const userId = 990_102;
  s.stack.github.addUser({ id: userId, login });
  const token = s.stack.github.issueToken(login);
  const now = s.clock.now();
  await s.stack.web.deps.telemetry.store.set(userId, { state: 'blocked', until: now + 30 * 60_000, since: now, strikes: 3, signal: 'requests', observed: 100, threshold: 40, login });
  await s.nextMinute();
  const res = await new Agent(s.stack.url, { authorization: `Bearer ${token}` }).get('/api/render/status', { headers: { 'x-render-api-key': `rnd_${login}${'c'.repeat(24)}` } });
  t.is(res.status, 429, res.text);
  t.is(res.json.error.code, 'account_temporarily_blocked');
  t.truthy(res.headers.get('retry-after'));
  t.deepEqual(res.setCookies, []);
  await s.stack.web.deps.telemetry.recorder.flush();
  const minute = Math.floor(s.clock.now() / 60_000);
  t.is(await s.stack.redis.client.hget(s.stack.web.deps.telemetry.keys.minutes(userId, Math.floor(minute / 60)), `${minute % 60}.n`), '1');
});
