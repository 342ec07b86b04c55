import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { sentinelKeys } from '../../server/sentinel/store.js';

// A round reads the key from the session that turned the watch on, once, at its start. The user may
// withdraw that consent while the round is still at Render (sign out, clear the key, connect another):
// from the moment that answer arrives, no Render call goes out with the withdrawn key (the round's
// later reads: service events, app logs, the env values Render audits as viewed) and no alert is sent
// for the watch, as a deploy run stops using a withdrawn key (SECURITY.md, Sentinel: consent and lifetime).

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

const AUDIT_ROUTE = '/owners/{ownerId}/audit-logs';
const webhook = (name: string) => `${s.tenantSlack.origin}/services/T000/B000/${name.padEnd(16, '0')}`;
const alertsTo = (name: string) => s.tenantSlack.bodies.filter((b) => b.startsWith(`POST /services/T000/B000/${name.padEnd(16, '0')} `));

type Tenant = Awaited<ReturnType<typeof tenant>>;

/** A round held at its audit-log read (its service list already answered) when `withdraw` runs. */
async function withdrawnMidRound(login: string, hook: string, withdraw: (who: Tenant) => Promise<void>, roundOver: (who: Tenant, userId: number) => Promise<boolean>) {
  const who = await tenant(s.stack, login);
  const userId = (await who.agent.get('/api/session')).json.user.id as number;
  // What the round will find: a high audit finding (alerts), and an error line (its redaction reads the env values).
  s.stack.render.addAuditEvent(who.ownerId, 'StartShellEvent', { service: who.services[0]!.id });
  s.stack.render.appendLog(who.services[0]!.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  const held = s.stack.render.holdRequest({ route: AUDIT_ROUTE, apiKey: who.apiKey });
  await enable(who.agent, { slackWebhookUrl: webhook(hook) });
  await held.arrived;
  await waitFor('the round\'s service list', async () => s.stack.render.calls.some((c) => c.accountId === who.accountId && c.route === '/services'));
  await withdraw(who);
  const mark = s.stack.render.calls.length;
  held.release();
  await waitFor('the held round to be over', () => roundOver(who, userId));
  const late = s.stack.render.calls.slice(mark).filter((c) => c.accountId === who.accountId).map((c) => `${c.method} ${c.route}`);
  return { late, alerts: alertsTo(hook) };
}

const watchGone = async (_who: Tenant, userId: number) => {
  const keys = sentinelKeys(s.stack.config.redisPrefix);
  return (await s.stack.redis.client.exists(keys.settings(userId), keys.lock(userId))) === 0;
};

test.serial('signed out while a round is at Render: no later Render call with that key, no alert', async (t) => {
  const { late, alerts } = await withdrawnMidRound('ola-signout', 'OLA', async (who) => {
    const out = await who.agent.post('/api/auth/logout', {});
    if (out.status >= 300) throw new Error(`logout: ${out.status} ${out.text}`);
  }, watchGone);
  t.deepEqual(late, [], 'Render calls with the key after sign-out');
  t.deepEqual(alerts, [], 'alerts after sign-out');
});

test.serial('key cleared while a round is at Render: no later Render call with that key, no alert', async (t) => {
  const { late, alerts } = await withdrawnMidRound('pia-clear', 'PIA', async (who) => {
    const res = await who.agent.post('/api/render/clear-credentials', {});
    if (res.status !== 200) throw new Error(`clear: ${res.status} ${res.text}`);
  }, watchGone);
  t.deepEqual(late, [], 'Render calls with the cleared key');
  t.deepEqual(alerts, [], 'alerts after the key was cleared');
});

test.serial('key replaced while a round is at Render: no later Render call with the old key; the watch goes on with the new one', async (t) => {
  const newKey = `rnd_quireplaced${'n'.repeat(20)}`;
  const second = s.stack.render.addAccount({ apiKey: newKey, workspaces: [{ name: 'qui second workspace' }] });
  const { late } = await withdrawnMidRound('qui-replace', 'QUI', async (who) => {
    const res = await who.agent.post('/api/render/setup', { api_key: newKey });
    if (res.status !== 200) throw new Error(`replace: ${res.status} ${res.text}`);
  }, async () => s.stack.render.calls.some((c) => c.accountId === second.id && c.route === AUDIT_ROUTE));
  t.deepEqual(late, [], 'Render calls with the replaced key');
});

test.serial('key replaced mid-round by one for the same workspace (a rotated key): the event the old key\'s round read is alerted once by the watch with the new key', async (t) => {
  const newKey = `rnd_rayrotated${'r'.repeat(20)}`;
  let second: { id: string } | undefined;
  const { late, alerts } = await withdrawnMidRound('ray-rotate', 'RAY', async (who) => {
    second = s.stack.render.addAccount({ apiKey: newKey, workspaces: [{ id: who.ownerId, name: 'shared' }] });
    const res = await who.agent.post('/api/render/setup', { api_key: newKey });
    if (res.status !== 200) throw new Error(`replace: ${res.status} ${res.text}`);
  }, async () => (second ? s.stack.render.calls.filter((c) => c.accountId === second!.id && c.route === AUDIT_ROUTE).length >= 2 : false));
  t.deepEqual(late, [], 'Render calls with the replaced key');
  // The second audit read by the new key starts a round after the first one with it ended.
  t.is(alerts.filter((a) => a.includes('Shell opened into a service')).length, 1, `the shell opened is alerted once: ${JSON.stringify(alerts)}`);
});
