import test from 'ava';
import { Writable } from 'node:stream';
import { createLogger } from '../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../workers/process.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startRedisHold, type RedisHold } from '../helpers/redisHold.js';
import { FAST_WATCH } from '../helpers/pipeline.js';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, tenant, waitFor } from './support.js';

// A withdrawal (sign-out, the watch turned off) that lands while a round waits on Redis must still stop
// what comes after: the Render call whose budget slot was being taken, the alert of the finding being
// recorded. The worker here reaches Redis through a hold that stops it at a chosen command.

let stack: Stack;
let hold: RedisHold;
let worker: WorkerProcess;
test.before(async () => {
  stack = await startStack({ env: { SENTINEL_INTERVAL_SECONDS: '1' }, renderLimits: BUDGET_FOR_TESTS });
  hold = await startRedisHold(stack.config.redisUrl);
  const sink = new Writable({ write(_c, _e, cb) { cb(); } });
  worker = await startWorker({
    config: { ...stack.config, redisUrl: hold.url }, logger: createLogger({ level: 'silent', destination: sink }), watch: FAST_WATCH, renderLimits: BUDGET_FOR_TESTS,
    workerOptions: { concurrency: 20, lockDurationMs: 5_000, stalledIntervalMs: 1_000 },
    sentinel: { alerts: stack.slackAlerts },
  });
});
test.after.always(async () => {
  hold?.release();
  await worker?.close(5_000);
  await hold?.close();
  await stack?.close();
});

/**
 * A tenant whose audit log holds a shell opened (a high finding, alerted to the webhook ending in `hook`),
 * its watch turned on and held at the first Redis command holding `marker(userId)`.
 */
async function shellFindingHeldAt(login: string, hook: string, marker: (userId: number) => string) {
  const who = await tenant(stack, login);
  const userId = (await who.agent.get('/api/session')).json.user.id as number;
  stack.render.addAuditEvent(who.ownerId, 'StartShellEvent', { service: who.services[0]!.id });
  hold.holdAt(marker(userId));
  await enable(who.agent, { slackWebhookUrl: `https://hooks.slack.com/services/T000/B000/${hook}` });
  await hold.held();
  return { who, userId };
}

test.serial('signed out while the round takes its budget slot for a Render call: that call is not made with the key', async (t) => {
  const who = await tenant(stack, 'uma-budgetwait');
  const userId = (await who.agent.get('/api/session')).json.user.id as number;
  hold.holdAt(':sentinel:read');
  const mark = stack.render.calls.length;
  await enable(who.agent);
  await hold.held();
  const out = await who.agent.post('/api/auth/logout', {});
  t.true(out.status < 300, `logout: ${out.status}`);
  hold.release();
  const keys = sentinelKeys(stack.config.redisPrefix);
  await waitFor('the watch to be stopped', async () => (await stack.redis.client.exists(keys.settings(userId), keys.lock(userId))) === 0);
  const late = stack.render.calls.slice(mark).filter((c) => c.accountId === who.accountId).map((c) => `${c.method} ${c.route}`);
  t.deepEqual(late, [], 'Render calls with the key of the signed-out session');
});

test.serial('signed out while the round records a finding in the audit trail: no alert goes to the webhook after the sign-out', async (t) => {
  const { who, userId } = await shellFindingHeldAt('vic-auditwait', 'VIC0000000000000', () => 'sentinel_finding');
  const out = await who.agent.post('/api/auth/logout', {});
  t.true(out.status < 300, `logout: ${out.status}`);
  const sent = stack.slack.bodies.length;
  hold.release();
  const keys = sentinelKeys(stack.config.redisPrefix);
  await waitFor('the watch to be stopped', async () => (await stack.redis.client.exists(keys.settings(userId), keys.lock(userId))) === 0);
  t.deepEqual(stack.slack.bodies.slice(sent).filter((b) => b.includes('/VIC0000')), [], 'alerts after sign-out');
});

test.serial('turned off while the round counts its alert against the rate limit: no alert goes to the webhook after the off', async (t) => {
  const { who, userId } = await shellFindingHeldAt('wes-ratewait', 'WES0000000000000', (id) => `:alert-rate:${id}`);
  const off = await who.agent.request('PUT', '/api/sentinel', { json: { enabled: false } });
  t.is(off.status, 200);
  const sent = stack.slack.bodies.length;
  hold.release();
  const keys = sentinelKeys(stack.config.redisPrefix);
  await waitFor('the round to be over', async () => (await stack.redis.client.exists(keys.lock(userId))) === 0);
  t.deepEqual(stack.slack.bodies.slice(sent).filter((b) => b.includes('/WES0000')), [], 'alerts after the watch was turned off');
});

test.serial('key replaced (same workspace) while a crash loop\'s finding grows: each line is counted once, not again by the new key\'s round', async (t) => {
  const who = await tenant(stack, 'xia-groupwait');
  const newKey = `rnd_xiarotated${'x'.repeat(20)}`;
  stack.render.appendLog(who.services[0]!.id, 'TypeError: Cannot read properties of undefined (reading \'a\')');
  await enable(who.agent);
  const loop = async () => (await findings(who.agent)).find((f) => f.kind === 'app_log');
  await waitFor('the first line\'s finding', async () => (await loop())?.count === 1);
  // The round that counts the second line is held at its write, and the key replaced meanwhile.
  hold.holdAt('"kind":"app_log"');
  stack.render.appendLog(who.services[0]!.id, 'TypeError: Cannot read properties of undefined (reading \'b\')');
  await hold.held();
  const second = stack.render.addAccount({ apiKey: newKey, workspaces: [{ id: who.ownerId, name: 'shared' }] });
  const res = await who.agent.post('/api/render/setup', { api_key: newKey });
  t.is(res.status, 200);
  hold.release();
  // Two log reads by the new key: its first round is over.
  await waitFor('two rounds with the new key', async () => stack.render.calls.filter((c) => c.accountId === second.id && c.route === '/logs').length >= 2);
  t.is((await loop())?.count, 2, 'two lines, counted once each');
});

// The key replaced by one for the same workspace (a rotated key) while the round claims the alert of a finding
// it has already audited: the finding is taken back for the new key's round to alert. That round audited it
// again: two "detected" entries in the user's trail for one event.
test.serial('key replaced (same workspace) while the round claims a finding\'s alert: the new key\'s round alerts it, and it is audited once', async (t) => {
  const { who } = await shellFindingHeldAt('yan-auditonce', 'YAN0000000000000', (id) => `:alert-rate:${id}`);
  const newKey = `rnd_yanrotated${'y'.repeat(20)}`;
  stack.render.addAccount({ apiKey: newKey, workspaces: [{ id: who.ownerId, name: 'shared' }] });
  const res = await who.agent.post('/api/render/setup', { api_key: newKey });
  t.is(res.status, 200);
  hold.release();
  const alerts = () => stack.slack.bodies.filter((b) => b.includes('/YAN0000'));
  await waitFor('the alert, from the new key\'s round', async () => alerts().length > 0);
  const trail = await who.agent.get('/api/audit?limit=100');
  const detected = trail.json.entries.filter((e: any) => e.action === 'sentinel_finding');
  t.is(detected.length, 1, JSON.stringify(detected));
  t.is(alerts().length, 1);
  t.is((await findings(who.agent)).filter((f) => f.renderEvent === 'StartShellEvent').length, 1);
});
