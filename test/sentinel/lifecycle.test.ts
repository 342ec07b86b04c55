import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, SECRET_ENV_VALUE, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { scheduleKeys } from '../../server/sentinel/schedule.js';
import { createSentinelQueue } from '../../server/sentinel/queue.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import { Agent } from '../helpers/agent.js';

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

const control = (path: string, body: unknown) => fetch(`${s.stack.render.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test.serial('two users see only their own findings; the other one\'s finding id is a 404', async (t) => {
  const [ann, ben] = [await tenant(s.stack, 'ann-iso'), await tenant(s.stack, 'ben-iso')];
  await enable(ann.agent);
  await enable(ben.agent);
  await control('/audit', { ownerId: ann.ownerId, event: 'StartShellEvent', metadata: { service: ann.services[0]!.id } });
  await control('/audit', { ownerId: ben.ownerId, event: 'ViewConnectionInfoEvent', metadata: { postgres: 'dpg-ben' } });
  const annF = await waitFor('ann', async () => { const l = await findings(ann.agent); return l.length ? l : null; });
  const benF = await waitFor('ben', async () => { const l = await findings(ben.agent); return l.length ? l : null; });
  t.deepEqual(annF.map((f) => f.rule), ['start_shell']);
  t.deepEqual(benF.map((f) => f.rule), ['view_connection_info']);
  t.is((await ann.agent.get(`/api/sentinel/findings/${annF[0].id}`)).status, 200);
  const probe = await ann.agent.get(`/api/sentinel/findings/${benF[0].id}`);
  t.is(probe.status, 404);
  t.is(probe.json.error.code, 'not_found');
  const missing = await ann.agent.get('/api/sentinel/findings/fnd_AAAAAAAAAAAAAAAAAAAA');
  t.is(missing.text, probe.text, 'someone else\'s id answers exactly like an id that does not exist');
  t.false(JSON.stringify(await findings(ann.agent)).includes(ben.ownerId));
});

test.serial('the watch stops within one interval of logout: off the schedule, sealed settings deleted, no more Render calls', async (t) => {
  const cal = await tenant(s.stack, 'cal-logout');
  await enable(cal.agent, { slackWebhookUrl: s.tenantSlack.url });
  const prefix = s.stack.config.redisPrefix;
  const settingsKey = sentinelKeys(prefix).settings(await userIdOf(cal.agent));
  const audits = () => s.stack.render.calls.filter((c) => c.accountId === cal.accountId && c.route === '/owners/{ownerId}/audit-logs').length;
  await waitFor('a first round', async () => audits() > 0);
  t.is(await s.stack.redis.client.exists(settingsKey), 1);
  const raw = JSON.stringify(await s.stack.redis.client.hgetall(settingsKey));
  t.false(raw.includes(s.tenantSlack.url), 'the webhook URL is sealed');
  t.false(raw.includes('127.0.0.1'), 'not even its host shows');
  const out = await cal.agent.post('/api/auth/logout', {});
  t.true(out.status < 300, out.text);
  const userId = String(await userIdOf(cal.agent, true));
  const { due, intervals } = scheduleKeys(prefix);
  await waitFor('the watch to remove itself', async () => (await s.stack.redis.client.zscore(due, userId)) === null
    && (await s.stack.redis.client.hexists(intervals, userId)) === 0 && (await s.stack.redis.client.exists(settingsKey)) === 0, 10_000);
  const after = audits();
  await new Promise((r) => setTimeout(r, 2_500)); // two more intervals
  t.is(audits(), after, 'no Render calls with that key after the watch ended');
});

const ids = new Map<unknown, number>();
async function userIdOf(agent: { get(p: string): Promise<{ json: any }> }, cached = false): Promise<number> {
  if (cached && ids.has(agent)) return ids.get(agent)!;
  const id = (await agent.get('/api/session')).json.user.id as number;
  ids.set(agent, id);
  return id;
}

test.serial('Slack: the tenant\'s webhook gets the alert (no secrets, deduplicated); the operator\'s webhook gets none of it', async (t) => {
  const dee = await tenant(s.stack, 'dee-slack');
  const before = { tenant: s.tenantSlack.texts.length, operator: s.operatorSlack.texts.length };
  await enable(dee.agent, { slackWebhookUrl: s.tenantSlack.url });
  const test1 = await dee.agent.post('/api/sentinel/test-alert', {});
  t.is(test1.status, 200);
  t.is(test1.json.delivered, true);
  await control('/audit', { ownerId: dee.ownerId, event: 'DownloadDatabaseBackupEvent', metadata: { postgres: 'dpg-dee' } });
  await control('/audit', { ownerId: dee.ownerId, event: 'DownloadDatabaseBackupEvent', metadata: { postgres: 'dpg-dee' } });
  await control('/logs', { resourceId: dee.services[0]!.id, messages: [`FATAL: password authentication failed for user "app" password=${SECRET_ENV_VALUE}`] });
  await waitFor('alerts', async () => s.tenantSlack.texts.slice(before.tenant).some((x) => x.includes('FATAL')) && s.tenantSlack.texts.slice(before.tenant).some((x) => x.includes('backup')));
  await new Promise((r) => setTimeout(r, 1_500));
  const mine = s.tenantSlack.texts.slice(before.tenant);
  t.true(mine.some((x) => x.startsWith('[Sentinel] Test message')));
  t.is(mine.filter((x) => x.includes('Database backup downloaded')).length, 1, 'the second backup download within the hour is deduplicated');
  for (const text of mine) {
    t.false(text.includes(SECRET_ENV_VALUE));
    t.false(text.includes(dee.apiKey));
    t.false(text.includes('password=')); // log lines never go to Slack
  }
  t.is(s.operatorSlack.texts.length, before.operator, 'tenant findings never reach the operator channel');
  t.true(s.tenantSlack.bodies.every((b) => b.startsWith('POST /services/T000/B000/')));
});

test.serial('only Slack incoming webhooks are accepted: other hosts, http, ports, credentials and private addresses are refused and nothing is stored', async (t) => {
  const eve = await tenant(s.stack, 'eve-hosts');
  const key = sentinelKeys(s.stack.config.redisPrefix).settings(await userIdOf(eve.agent));
  for (const url of ['https://hooks.slack.com.evil.example/services/T0/B0/xxxxxxxxxx', 'http://hooks.slack.com/services/T0/B0/xxxxxxxxxxxx', 'https://evil.example/services/T0/B0/xxxxxxxxxx',
    'https://127.0.0.1/services/T0/B0/xxxxxxxxxxxxxx', 'https://hooks.slack.com:444/services/T0/B0/xxxxxxxxxx', 'https://u:p@hooks.slack.com/services/T0/B0/xxxxxxxx', 'https://hooks.slack.com/api/chat.postMessage']) {
    const res = await eve.agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: url } });
    t.is(res.status, 400, url);
    t.is(res.json.error.code, 'validation_failed');
    t.false(res.text.includes('evil.example') && res.text.includes('xxxxxxxxxx'), 'the URL is not echoed');
    const tested = await eve.agent.post('/api/sentinel/test-alert', { slackWebhookUrl: url });
    t.is(tested.status, 400, `test ${url}`);
  }
  t.is(await s.stack.redis.client.exists(key), 0);
});

test.serial('enabling Sentinel sets up no BullMQ job scheduler, and no BullMQ script lands on the connection every request uses', async (t) => {
  // ioredis copies every script defined on a connection onto each auto-pipelined batch: BullMQ's ~60
  // on the shared connection made every request's Redis round trips cost more CPU. A watch is now an
  // entry of the schedule (server/sentinel/schedule.ts), written with the settings.
  const fay = await tenant(s.stack, 'fay-conn');
  await enable(fay.agent);
  const scripts = (r: { scriptsSet: object }) => Object.keys(r.scriptsSet);
  const queue = createSentinelQueue(s.stack.redis.client, s.stack.config.redisPrefix);
  try { t.is(await queue.getJobSchedulersCount(), 0, 'no job scheduler per user'); } finally { await queue.close(); }
  t.deepEqual(scripts(s.stack.web.deps.redis).filter((name) => name.includes(':')), [], 'no BullMQ script on the shared connection');
  const userId = String(await userIdOf(fay.agent));
  t.not(await s.stack.redis.client.zscore(scheduleKeys(s.stack.config.redisPrefix).due, userId), null, 'the watch is on the schedule');
});

// The worker remembers each watch's session and key from its last round, to ask for them with the next
// round's start. A key replaced in the session between rounds must end the old key's use at once: the
// next rounds call Render with the new key only, whatever was remembered or paid ahead for the old one.
test.serial('a key replaced between rounds: later rounds call Render with the new key only', async (t) => {
  const dee = await tenant(s.stack, 'dee-rekey');
  await enable(dee.agent);
  const audits = (accountId: string) => s.stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/owners/{ownerId}/audit-logs').length;
  await waitFor('two rounds with the first key', async () => audits(dee.accountId) >= 2);

  const newKey = `rnd_deerekeyed${'n'.repeat(20)}`;
  const second = s.stack.render.addAccount({ apiKey: newKey, workspaces: [{ name: 'dee second workspace' }] });
  const res = await dee.agent.post('/api/render/setup', { api_key: newKey });
  t.is(res.status, 200, res.text);
  // A round at Render during the replace makes no later call with the old key (consentDuringRound.test.ts); none begins after it.
  await waitFor('two rounds with the new key', async () => audits(second.id) >= 2);
  const oldCalls = audits(dee.accountId);
  await waitFor('two more rounds with the new key', async () => audits(second.id) >= 4);
  t.is(audits(dee.accountId), oldCalls, 'no Render call with the replaced key');
});

test.serial('a key sent with X-Render-Api-Key cannot hold a watch (it lasts one request): 400, and the watch of the browser session stays', async (t) => {
  const dot = await tenant(s.stack, 'dot-ci');
  await enable(dot.agent, { slackWebhookUrl: s.tenantSlack.url });
  const ci = new Agent(s.stack.url, { authorization: `Bearer ${s.stack.github.issueToken('dot-ci')}`, 'x-render-api-key': dot.apiKey });
  const res = await ci.request('PUT', '/api/sentinel', { json: { enabled: true, intervalSeconds: 30 } });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_missing');
  const view = (await dot.agent.get('/api/sentinel')).json;
  t.like(view, { enabled: true, watchingThisSession: true, intervalSeconds: 1, slack: { configured: true } });
  // The token's own session may turn the watch off: that needs no key.
  const off = await ci.request('PUT', '/api/sentinel', { json: { enabled: false } });
  t.is(off.status, 200, off.text);
  t.false((await dot.agent.get('/api/sentinel')).json.enabled);
});

// The Security page's "Remove webhook" used to send `enabled` from what the page last read: a page that had
// not heard of another tab turning Sentinel off sent `enabled: true` and turned it back on. A save that
// leaves `enabled` out keeps the watch on or off as it is.
test.serial('a save that leaves `enabled` out keeps the watch as it is: on, its webhook removed; off, it stays off with nothing stored', async (t) => {
  const kit = await tenant(s.stack, 'kit-partial');
  await enable(kit.agent, { slackWebhookUrl: s.tenantSlack.url });
  const userId = String(await userIdOf(kit.agent));
  const settingsKey = sentinelKeys(s.stack.config.redisPrefix).settings(Number(userId));
  const { due } = scheduleKeys(s.stack.config.redisPrefix);

  const removed = await kit.agent.request('PUT', '/api/sentinel', { json: { slackWebhookUrl: null } });
  t.is(removed.status, 200, removed.text);
  t.like(removed.json, { enabled: true, watchingThisSession: true, slack: { configured: false, hint: null } });
  t.not(await s.stack.redis.client.zscore(due, userId), null, 'still on the schedule');

  await enable(kit.agent, { slackWebhookUrl: s.tenantSlack.url });
  const off = await kit.agent.request('PUT', '/api/sentinel', { json: { enabled: false } });
  t.is(off.status, 200, off.text);
  const again = await kit.agent.request('PUT', '/api/sentinel', { json: { slackWebhookUrl: null } });
  t.is(again.status, 200, again.text);
  t.like(again.json, { enabled: false, slack: { configured: false } });
  t.false((await kit.agent.get('/api/sentinel')).json.enabled, 'not turned back on');
  t.is(await s.stack.redis.client.exists(settingsKey), 0, 'no settings written');
  t.is(await s.stack.redis.client.zscore(due, userId), null, 'not on the schedule');

  // Anything else asked of a watch that is off is refused, nothing stored: `enabled: true` turns it on with it.
  for (const body of [{ slackWebhookUrl: s.tenantSlack.url }, { intervalSeconds: 60 }, { slackDeployResults: true }]) {
    const res = await kit.agent.request('PUT', '/api/sentinel', { json: body });
    t.is(res.status, 400, JSON.stringify(body));
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, /^enabled: Sentinel is off/);
  }
  t.is(await s.stack.redis.client.exists(settingsKey), 0, 'still nothing stored');
  t.false((await kit.agent.get('/api/sentinel')).json.enabled);

  // A save that names nothing is refused, whether the watch is on or off (on, it would move the watch to this session).
  for (const on of [false, true]) {
    if (on) await enable(kit.agent, {});
    const empty = await kit.agent.request('PUT', '/api/sentinel', { json: {} });
    t.is(empty.status, 400, empty.text);
    t.is(empty.json.error.code, 'validation_failed');
    t.is((await kit.agent.get('/api/sentinel')).json.enabled, on);
  }
});

// Off and on again while a round is at Render: the settings are new, but the round in flight is still
// the user's one round. A second one beside it would read (and spend the key's budget on) everything
// again, and the first one's end would then release the second one's lock and pull its lease in.
test.serial('turning Sentinel off and on during a round: the next round waits for it (one round per user at a time)', async (t) => {
  const ivy = await tenant(s.stack, 'ivy-offon');
  const rounds = s.worker.metrics.registry.getSingleMetric('orchestrator_sentinel_rounds_total')!;
  const skipped = async () => (await rounds.get()).values.find((v) => v.labels.outcome === 'skipped')?.value ?? 0;
  const auditRoute = '/owners/{ownerId}/audit-logs';
  const first = s.stack.render.holdRequest({ route: auditRoute, apiKey: ivy.apiKey });
  const next = s.stack.render.holdRequest({ route: auditRoute, apiKey: ivy.apiKey });
  t.teardown(() => { first.release(); next.release(); });
  let nextArrived = false;
  void next.arrived.then(() => { nextArrived = true; });
  await enable(ivy.agent);
  await first.arrived;
  const skippedBefore = await skipped();
  const off = await ivy.agent.request('PUT', '/api/sentinel', { json: { enabled: false } });
  t.is(off.status, 200, off.text);
  await enable(ivy.agent);
  // The watch is due at once again: its next claim either starts a round beside the held one (it reads
  // the audit log too) or sees the held round's lock and steps aside.
  await waitFor('the next claim to start a round or step aside', async () => nextArrived || (await skipped()) > skippedBefore);
  t.false(nextArrived, 'a second round read the audit log while the first one was still at Render');
  first.release();
  await next.arrived;
  const order = s.stack.render.calls.filter((c) => c.accountId === ivy.accountId && (c.route === auditRoute || c.route === '/logs')).map((c) => (c.route === auditRoute ? 'a' : 'l')).join('');
  t.is(order, 'ala', 'the next round begins once the held one made its last call (audit a, logs l)');
});
