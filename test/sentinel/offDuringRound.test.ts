import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { scheduleKeys } from '../../server/sentinel/schedule.js';
import { sentinelKeys } from '../../server/sentinel/store.js';

// Turning the watch off ends it at that moment: a round already at Render (held here, as in
// lifecycle.test.ts) finishes without alerting, and writes no findings, cursors or status back for the
// ended watch; a watch turned on again meanwhile is the new one, which that round must not write over.
// Settings saved again unchanged are no change at all; a changed webhook is a new watch.

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

const AUDIT_ROUTE = '/owners/{ownerId}/audit-logs';
const webhook = (name: string) => `${s.tenantSlack.origin}/services/T000/B000/${name.padEnd(16, '0')}`;
/** Alerts delivered to this webhook path (the receiver records every request's path). */
const alertsTo = (name: string) => s.tenantSlack.bodies.filter((b) => b.startsWith(`POST /services/T000/B000/${name.padEnd(16, '0')} `));
const off = async (agent: Awaited<ReturnType<typeof tenant>>['agent']) => {
  const res = await agent.request('PUT', '/api/sentinel', { json: { enabled: false } });
  if (res.status !== 200) throw new Error(`off: ${res.status} ${res.text}`);
};
const userIdOf = async (agent: Awaited<ReturnType<typeof tenant>>['agent']) => (await agent.get('/api/session')).json.user.id as number;
const auditCalls = (accountId: string) => s.stack.render.calls.filter((c) => c.accountId === accountId && c.route === AUDIT_ROUTE).length;

test.serial('off during a round: no alert after off, and no findings, cursors or status left once the round ends', async (t) => {
  const una = await tenant(s.stack, 'una-off');
  const userId = await userIdOf(una.agent);
  const keys = sentinelKeys(s.stack.config.redisPrefix);
  // Already in the audit log when the round reads it: a high finding, which alerts.
  s.stack.render.addAuditEvent(una.ownerId, 'StartShellEvent', { service: una.services[0]!.id });
  const held = s.stack.render.holdRequest({ route: AUDIT_ROUTE, apiKey: una.apiKey });
  t.teardown(() => held.release());
  await enable(una.agent, { slackWebhookUrl: webhook('UNA') });
  await held.arrived;
  await off(una.agent);
  held.release();
  await waitFor('the held round to end', async () => (await s.stack.redis.client.exists(keys.lock(userId))) === 0);
  t.deepEqual(alertsTo('UNA'), [], 'no alert after the watch was turned off');
  t.deepEqual(await findings(una.agent), []);
  const left = [keys.settings(userId), keys.findings(userId), keys.order(userId), keys.cursors(userId), keys.groups(userId), keys.status(userId)];
  for (const key of left) t.is(await s.stack.redis.client.exists(key), 0, key);
  t.is(await s.stack.redis.client.zscore(scheduleKeys(s.stack.config.redisPrefix).due, String(userId)), null, 'off the schedule');
});

test.serial('off and on again during a round: the old round neither alerts the old webhook nor writes over the new watch, which finds and alerts itself', async (t) => {
  const vic = await tenant(s.stack, 'vic-offon');
  const userId = await userIdOf(vic.agent);
  s.stack.render.addAuditEvent(vic.ownerId, 'StartShellEvent', { service: vic.services[0]!.id });
  const held = s.stack.render.holdRequest({ route: AUDIT_ROUTE, apiKey: vic.apiKey });
  t.teardown(() => held.release());
  await enable(vic.agent, { slackWebhookUrl: webhook('VICOLD') });
  await held.arrived;
  await off(vic.agent);
  await enable(vic.agent, { slackWebhookUrl: webhook('VICNEW') });
  held.release();
  await waitFor('the new watch\'s alert', async () => alertsTo('VICNEW').length > 0);
  // One more round of the new watch, so a late write of the old round would have shown.
  const calls = auditCalls(vic.accountId);
  await waitFor('another round of the new watch', async () => auditCalls(vic.accountId) >= calls + 2);
  t.deepEqual(alertsTo('VICOLD'), [], 'the ended watch\'s webhook got nothing');
  t.is(alertsTo('VICNEW').length, 1);
  t.deepEqual((await findings(vic.agent)).map((f) => f.rule), ['start_shell']);
  t.like((await vic.agent.get('/api/sentinel')).json, { enabled: true, slack: { configured: true } });
  t.not(await s.stack.redis.client.zscore(scheduleKeys(s.stack.config.redisPrefix).due, String(userId)), null, 'the new watch is on the schedule');
});

test.serial('off and on again soon after: the orchestrator\'s own env-var read (log redaction) is still not a finding', async (t) => {
  const wes = await tenant(s.stack, 'wes-selfread');
  await enable(wes.agent);
  // An error line makes the round read the service's env values to redact it; Render audits that read.
  s.stack.render.appendLog(wes.services[0]!.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  await waitFor('the round\'s env-var read', async () => s.stack.render.calls.some((c) => c.accountId === wes.accountId && c.method === 'GET' && c.route === '/services/{serviceId}/env-vars'));
  await off(wes.agent);
  await enable(wes.agent);
  // The watch starts over (its cursors went with it), so its first round reads that audit entry again.
  const calls = auditCalls(wes.accountId);
  await waitFor('two rounds of the new watch', async () => auditCalls(wes.accountId) >= calls + 2);
  const env = (await findings(wes.agent)).filter((f) => f.rule === 'view_env_var_values');
  t.deepEqual(env, [], 'our own read is not reported');
});

// The settings form saved again unchanged (its usual body, or the same webhook typed again: sealed anew,
// the same URL once opened) during a round is no change: that round's work stands, and the watch keeps
// its rhythm (due one interval after the round's due time, not at once).
test.serial('the same settings saved again during a round: the round\'s finding, cursors, status and alert stand, and the watch keeps its due time', async (t) => {
  const sam = await tenant(s.stack, 'sam-same');
  const userId = await userIdOf(sam.agent);
  const keys = sentinelKeys(s.stack.config.redisPrefix);
  const redis = s.stack.redis.client;
  s.stack.render.addAuditEvent(sam.ownerId, 'StartShellEvent', { service: sam.services[0]!.id });
  const held = s.stack.render.holdRequest({ route: AUDIT_ROUTE, apiKey: sam.apiKey });
  t.teardown(() => held.release());
  const settings = { intervalSeconds: 30, slackWebhookUrl: webhook('SAM') };
  // The watch is due at once, at the save's time (the web's clock): between these two.
  const before = Date.now();
  await enable(sam.agent, settings);
  const after = Date.now();
  await held.arrived;
  await enable(sam.agent, { slackDeployResults: false });
  await enable(sam.agent, settings);
  held.release();
  await waitFor('the held round to end', async () => (await redis.exists(keys.lock(userId))) === 0);
  t.deepEqual((await findings(sam.agent)).map((f) => f.rule), ['start_shell'], 'the round\'s finding');
  t.is(alertsTo('SAM').length, 1, 'its alert');
  t.is(await redis.exists(keys.cursors(userId)), 1, 'its cursors');
  t.is(await redis.exists(keys.status(userId)), 1, 'its status');
  t.is(auditCalls(sam.accountId), 1, 'no second round ran to find it again');
  const due = Number(await redis.zscore(scheduleKeys(s.stack.config.redisPrefix).due, String(userId)));
  t.true(due >= before + 30_000 && due <= after + 30_000, `next due one interval after the first save (${due - before} ms after it began)`);
});

test.serial('a new webhook saved during a round still ends that round: the old webhook gets nothing, the new one the alert', async (t) => {
  const nia = await tenant(s.stack, 'nia-hook');
  s.stack.render.addAuditEvent(nia.ownerId, 'StartShellEvent', { service: nia.services[0]!.id });
  const held = s.stack.render.holdRequest({ route: AUDIT_ROUTE, apiKey: nia.apiKey });
  t.teardown(() => held.release());
  await enable(nia.agent, { slackWebhookUrl: webhook('NIAOLD') });
  await held.arrived;
  await enable(nia.agent, { slackWebhookUrl: webhook('NIANEW') });
  held.release();
  await waitFor('the new webhook\'s alert', async () => alertsTo('NIANEW').length > 0);
  t.deepEqual(alertsTo('NIAOLD'), [], 'the replaced webhook got nothing');
  t.deepEqual((await findings(nia.agent)).map((f) => f.rule), ['start_shell']);
});
