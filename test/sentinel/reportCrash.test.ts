import test from 'ava';
import { oneServiceRounds } from './rounds.js';
import { startStack } from '../helpers/stack.js';
import { startRedisHold } from '../helpers/redisHold.js';
import { spawnWorker, type ChildWorker } from '../helpers/processes.js';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, tenant, waitFor } from './support.js';

// A round writes a new finding, then reports it (SSE, audit entry, Slack alert). A worker that died in
// between (killed, a lost Redis connection) left the finding written and unreported: the next round read
// the same event again (its cursor had not moved), found the finding already there, not new, and never
// audited or alerted it.

const OOM = { reason: { oomKilled: { memoryLimit: '512Mi' } } };

test('a finding written by a round that died before reporting it is reported by the next round, once', async (t) => {
  const { render, service, rounds } = await oneServiceRounds(t, 'reportcrash', 'crashy');
  const svc = service!;
  render.addServiceEvent(svc.id, 'server_failed', OOM);

  const died = await rounds.round(Date.now, async (_f, isNew) => { if (isNew) throw new Error('the worker died here'); }).then(() => null, (err: Error) => err);
  t.is(died?.message, 'the worker died here');
  t.deepEqual(rounds.found, [], 'nothing reported by the round that died');

  await rounds.round();
  t.deepEqual(rounds.found.map((f) => [f.rule, f.serviceId]), [['server_oom', svc.id]], 'the next round reports it');
  await rounds.round();
  t.is(rounds.found.length, 1, 'and only once');
});

// The same in real worker processes: the worker dies (kill -9) after the finding is written and audited, at
// its alert's claim. The next worker's round alerts it, without a second audit entry.
test('a worker killed between a finding\'s audit entry and its alert: the next worker alerts it, and it is audited once', async (t) => {
  t.timeout(120_000);
  const stack = await startStack({ env: { SENTINEL_INTERVAL_SECONDS: '1' }, renderLimits: BUDGET_FOR_TESTS });
  const hold = await startRedisHold(stack.config.redisUrl);
  const workers: ChildWorker[] = [];
  t.teardown(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await hold.close();
    await stack.close();
  });
  const worker = async (redisUrl: string) => {
    const w = await spawnWorker({ ...stack.config, redisUrl }, { renderLimits: BUDGET_FOR_TESTS, sentinel: { minLeaseMs: 3_000, alerts: stack.slackAlerts } }, { SENTINEL_INTERVAL_SECONDS: '1' });
    workers.push(w);
    return w;
  };
  const doomed = await worker(hold.url);
  const who = await tenant(stack, 'zed-reportcrash');
  const userId = (await who.agent.get('/api/session')).json.user.id as number;
  stack.render.addAuditEvent(who.ownerId, 'StartShellEvent', { service: who.services[0]!.id });
  hold.holdAt(`:alert-rate:${userId}`);
  await enable(who.agent, { slackWebhookUrl: 'https://hooks.slack.com/services/T000/B000/ZED0000000000000' });
  await hold.held();
  await doomed.kill('SIGKILL');
  const alerts = () => stack.slack.bodies.filter((b) => b.includes('/ZED0000'));
  const detected = async () => (await who.agent.get('/api/audit?limit=100')).json.entries.filter((e: { action: string }) => e.action === 'sentinel_finding');
  t.is((await detected()).length, 1, 'audited before the worker died');
  t.is(alerts().length, 0);

  await worker(stack.config.redisUrl);
  await waitFor('the alert, from the next worker\'s round', async () => alerts().length > 0, 60_000);
  t.is(alerts().length, 1);
  t.is((await detected()).length, 1, 'not audited again');
  t.is((await findings(who.agent)).filter((f) => f.renderEvent === 'StartShellEvent').length, 1);
});

// The worker dies (kill -9) with the alert's POST on its way (Slack has it, no answer yet). Its claim was the
// hour's: the next worker's round read the finding again (unreported), found the alert claimed and sent none.
test('a worker killed with its alert on its way to Slack: the next worker sends it, and it is audited once', async (t) => {
  t.timeout(120_000);
  const stack = await startStack({ env: { SENTINEL_INTERVAL_SECONDS: '1' }, renderLimits: BUDGET_FOR_TESTS });
  const workers: ChildWorker[] = [];
  t.teardown(async () => {
    await Promise.all(workers.map((w) => w.kill()));
    await stack.close();
  });
  const worker = async () => {
    const w = await spawnWorker(stack.config, { renderLimits: BUDGET_FOR_TESTS, sentinel: { minLeaseMs: 3_000, alerts: stack.slackAlerts } }, { SENTINEL_INTERVAL_SECONDS: '1' });
    workers.push(w);
    return w;
  };
  const path = '/services/T000/B000/INFLIGHT00000000000';
  const doomed = await worker();
  const who = await tenant(stack, 'zed-inflight');
  stack.render.addAuditEvent(who.ownerId, 'StartShellEvent', { service: who.services[0]!.id });
  stack.slack.hold(path);
  await enable(who.agent, { slackWebhookUrl: `https://hooks.slack.com${path}` });
  await waitFor('the alert on its way', async () => stack.slack.held.length > 0, 60_000);
  await doomed.kill('SIGKILL');
  stack.slack.release(path);
  const sent = () => stack.slack.bodies.filter((b) => b.includes(path));
  const detected = async () => (await who.agent.get('/api/audit?limit=100')).json.entries.filter((e: { action: string }) => e.action === 'sentinel_finding');
  t.is(sent().length, 0);

  await worker();
  await waitFor('the alert, from the next worker\'s round', async () => sent().length > 0, 60_000);
  t.is(stack.slack.held.length, 1);
  t.is(sent().length, 1);
  t.true(sent()[0]!.includes('StartShell') || sent()[0]!.includes('Shell opened'), sent()[0]);
  t.is((await detected()).length, 1, 'audited once');
  // Sent: the hour's alert, so later rounds send none.
  await new Promise((r) => setTimeout(r, 3_000));
  t.is(sent().length, 1);
});
