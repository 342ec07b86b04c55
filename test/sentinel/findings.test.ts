import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, SECRET_ENV_VALUE, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { addNodeRepo, waitFinished } from '../helpers/pipeline.js';
import { dumpRedis } from '../helpers/stack.js';
import { sentinelKeys } from '../../server/sentinel/store.js';
import { openSseAs } from '../helpers/sse.js';
import { renderTestClient } from '../sandbox/render-test-client.js';

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

/** A POST to the Render simulator's control API (what happens on Render's side: audit entries, logs, events, faults). */
const simControl = (path: string, body: unknown) => fetch(`${s.stack.render.controlUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** Someone else with API access reads a service's env values: Render writes ViewEnvVarValuesEvent (actor rest_api). */
const foreignEnvRead = (ownerId: string, serviceId: string) => simControl('/audit', { ownerId, event: 'ViewEnvVarValuesEvent', actorType: 'rest_api', metadata: { service: serviceId, field: 'env_vars' } });

const EXPECTED: Array<[string, string, string]> = [
  ['ViewConnectionInfoEvent', 'view_connection_info', 'high'],
  ['StartShellEvent', 'start_shell', 'high'],
  ['DownloadDatabaseBackupEvent', 'download_database_backup', 'high'],
  ['ViewEnvVarValuesEvent', 'view_env_var_values', 'medium'],
  ['ProvisionOrganizationSCIMToken', 'scim_token_created', 'medium'],
  ['AddOrgMemberEvent', 'member_added', 'medium'],
  ['ChangeTeamMemberRoleEvent', 'role_changed', 'medium'],
  ['UpdateIPAllowListEvent', 'ip_allow_list_changed', 'medium'],
  ['ChangeTeam2FAEnforcementEvent', 'two_factor_changed', 'medium'],
  ['RemoveUserFromTeamEvent', 'member_removed', 'low'],
];

test.serial('each audit-log event type becomes the right finding; ordinary events are not findings; each is audited and counted', async (t) => {
  const ada = await tenant(s.stack, 'ada-audit');
  await enable(ada.agent);
  const control = async (path: string, body: unknown) => {
    const res = await simControl(path, body);
    t.true(res.status < 300, `${path}: ${res.status}`);
  };
  for (const [event] of EXPECTED) await control('/audit', { ownerId: ada.ownerId, event, metadata: { service: ada.services[0]!.id } });
  await control('/audit', { ownerId: ada.ownerId, event: 'CreateServerEvent', metadata: { service: ada.services[0]!.id } });
  await control('/audit', { ownerId: ada.ownerId, event: 'LoginEvent', status: 'success' });
  const list = await waitFor('audit findings', async () => { const f = await findings(ada.agent); return f.length >= EXPECTED.length ? f : null; });
  await new Promise((r) => setTimeout(r, 2_500)); // two more rounds: nothing is reported twice
  const again = await findings(ada.agent);
  t.is(again.length, EXPECTED.length, again.map((f) => f.renderEvent).join(','));
  for (const [event, rule, severity] of EXPECTED) {
    const f = list.find((x) => x.renderEvent === event);
    t.truthy(f, event);
    t.is(f.rule, rule, event);
    t.is(f.severity, severity, event);
    t.is(f.kind, 'audit');
    t.is(f.serviceId, ada.services[0]!.id);
  }
  const audit = await ada.agent.get('/api/audit?limit=100');
  t.is(audit.json.entries.filter((e: any) => e.action === 'sentinel_finding').length, EXPECTED.length);
  const metric = await s.worker.metrics.registry.getSingleMetricAsString('orchestrator_sentinel_findings_total');
  t.regex(metric, /severity="high",kind="audit"[^\n]* 3/);
  const status = await ada.agent.get('/api/sentinel');
  t.is(status.json.counts.high, 3);
  t.true(status.json.enabled && status.json.watchingThisSession);
});

test.serial('env-var reads the orchestrator makes (log redaction) are not findings; the same read by someone else is', async (t) => {
  const bob = await tenant(s.stack, 'bob-self', ['api', 'other']);
  addNodeRepo(s.stack, 'bob-self', 'app');
  await enable(bob.agent);
  const deploy = await bob.agent.post('/api/render/deploy', { github_repo: 'bob-self/app', project_name: 'bob-app' });
  t.is(deploy.status, 202, deploy.text);
  const done = await waitFinished(bob.agent, deploy.json.id);
  t.is(done.status, 'live');
  // The deployment logs view reads env values to redact them: Render writes ViewEnvVarValuesEvent (actor rest_api).
  const logs = await bob.agent.get(`/api/render/deployments/${deploy.json.id}/logs`);
  t.is(logs.status, 200);
  t.true(s.stack.render.calls.some((c) => c.method === 'GET' && c.route === '/services/{serviceId}/env-vars' && c.accountId === bob.accountId));
  // Someone else with API access reads env values of another service.
  await foreignEnvRead(bob.ownerId, bob.services[1]!.id);
  const list = await waitFor('the foreign read', async () => { const f = await findings(bob.agent); return f.some((x) => x.serviceId === bob.services[1]!.id) ? f : null; });
  await new Promise((r) => setTimeout(r, 2_000));
  const env = (await findings(bob.agent)).filter((f) => f.rule === 'view_env_var_values');
  t.is(env.length, 1, JSON.stringify(list));
  t.is(env[0].serviceId, bob.services[1]!.id);
});

test.serial('env-var reads of the live log tail (a deployment page following its logs) are not findings', async (t) => {
  const dee = await tenant(s.stack, 'dee-tail', ['api', 'other']);
  addNodeRepo(s.stack, 'dee-tail', 'app');
  await enable(dee.agent);
  const deploy = await dee.agent.post('/api/render/deploy', { github_repo: 'dee-tail/app', project_name: 'dee-app' });
  t.is(deploy.status, 202, deploy.text);
  t.is((await waitFinished(dee.agent, deploy.json.id)).status, 'live');
  const envReads = () => s.stack.render.calls.filter((c) => c.method === 'GET' && c.route === '/services/{serviceId}/env-vars' && c.accountId === dee.accountId).length;
  const before = envReads();
  // The deployment page's live tail: it reads the service's values to redact the lines it streams.
  const tab = await openSseAs(dee.agent, `/api/events?logs=${deploy.json.id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('event: logs'), 15_000);
  t.true(envReads() > before, 'the tail read the env values (Render audits that read)');
  // A later read by someone else: once Sentinel reports it, it has judged the tail's read before it.
  await foreignEnvRead(dee.ownerId, dee.services[1]!.id);
  await waitFor('the foreign read', async () => ((await findings(dee.agent)).some((x) => x.serviceId === dee.services[1]!.id) ? true : null));
  const env = (await findings(dee.agent)).filter((f) => f.rule === 'view_env_var_values');
  t.deepEqual(env.map((f) => f.serviceId), [dee.services[1]!.id], 'only the foreign read, not the tail\'s');
});

// Render writes an audit entry for each page of env vars read, and one note of ours stands for one entry: the
// watch noted its redaction read once, so a service with more than 100 vars reported its own second page.
test.serial('a service with more env vars than a page holds: each of the watch\'s own reads is noted, none is a finding', async (t) => {
  const fay = await tenant(s.stack, 'fay-vars', ['api', 'other']);
  const svc = fay.services[0]!.id;
  const vars = [{ key: 'DATABASE_PASSWORD', value: SECRET_ENV_VALUE }, ...Array.from({ length: 130 }, (_, i) => ({ key: `FLAG_${i}`, value: `v${i}` }))];
  const put = await renderTestClient(s.stack.render.url, fay.apiKey).call('PUT', `/services/${svc}/env-vars`, vars);
  t.is(put.status, 200, put.text);
  const envReads = () => s.stack.render.calls.filter((c) => c.method === 'GET' && c.route === '/services/{serviceId}/env-vars' && c.accountId === fay.accountId && c.path.includes(svc)).length;
  await enable(fay.agent);
  // An error line: the watch reads the service's values to redact it, two pages of them.
  await simControl('/logs', { resourceId: svc, messages: [`TypeError: boom password=${SECRET_ENV_VALUE}`] });
  await waitFor('the error line\'s finding', async () => ((await findings(fay.agent)).some((x) => x.kind === 'app_log') ? true : null), 60_000);
  t.true(envReads() >= 2, `the watch read both pages of env vars (${envReads()} reads)`);
  // A later entry by someone else: once Sentinel reports it, it has judged the watch's own reads before it.
  await foreignEnvRead(fay.ownerId, fay.services[1]!.id);
  await waitFor('the foreign read', async () => ((await findings(fay.agent)).some((x) => x.serviceId === fay.services[1]!.id) ? true : null));
  const env = (await findings(fay.agent)).filter((f) => f.rule === 'view_env_var_values');
  t.deepEqual(env.map((f) => f.serviceId), [fay.services[1]!.id], 'only the foreign read, none of the watch\'s own');
});

// A note of our own read was written before the call, and stayed when Render refused it (a 429: its rate
// limit; the key; no such service): nothing was audited, and the note hid the next read of that service by
// someone else within its window. It is dropped when Render refused the call.
test.serial('an env-var read of the watch that Render refused leaves no note: a colleague\'s read right after is reported', async (t) => {
  const gil = await tenant(s.stack, 'gil-refused', ['api', 'other']);
  const svc = gil.services[0]!.id;
  const rule = await simControl('/faults', { method: 'GET', route: '/services/{serviceId}/env-vars', kind: 'status', status: 429, apiKey: gil.apiKey, count: 1 });
  t.is(rule.status, 201);
  await enable(gil.agent);
  // An error line: the watch reads the service's values to redact it, and Render answers 429.
  await simControl('/logs', { resourceId: svc, messages: ['TypeError: boom'] });
  await waitFor('the refused env-var read', async () => s.stack.render.calls.some((c) => c.accountId === gil.accountId && c.route === '/services/{serviceId}/env-vars' && c.status === 429));
  // A colleague reads that service's values, then opens a shell into the other (once reported, the read before it was judged).
  await foreignEnvRead(gil.ownerId, svc);
  await simControl('/audit', { ownerId: gil.ownerId, event: 'StartShellEvent', metadata: { service: gil.services[1]!.id } });
  await waitFor('the shell', async () => ((await findings(gil.agent)).some((x) => x.rule === 'start_shell') ? true : null));
  const env = (await findings(gil.agent)).filter((f) => f.rule === 'view_env_var_values');
  t.deepEqual(env.map((f) => f.serviceId), [svc], 'the colleague\'s read is reported');
});

test.serial('a crash loop of 500 lines is one grouped finding with first and last line, secrets redacted', async (t) => {
  const cy = await tenant(s.stack, 'cy-crash');
  await enable(cy.agent);
  const svc = cy.services[0]!.id;
  const messages: string[] = [];
  for (let i = 0; i < 500; i += 1) {
    messages.push(`GET /health 200 ${i}`);
    messages.push(`TypeError: Cannot read properties of undefined (reading 'id') #${i} password=${SECRET_ENV_VALUE} db=${SECRET_ENV_VALUE}`);
  }
  await simControl('/logs', { resourceId: svc, messages });
  let last: unknown[] = [];
  const f = await waitFor('500 grouped lines', async () => { const l = await findings(cy.agent); last = l; return l.find((x) => x.kind === 'app_log' && x.count === 500); }, 60_000)
    .catch((err: Error) => { t.log(JSON.stringify(last), s.worker.logs.filter((l) => l.includes('sentinel')).slice(-5)); throw err; });
  const all = (await findings(cy.agent)).filter((x) => x.kind === 'app_log');
  t.is(all.length, 1);
  t.is(f.severity, 'medium');
  t.regex(f.title, /^TypeError ×500 in \d+ min$/);
  t.regex(f.firstLine, /#0 /);
  t.regex(f.lastLine, /#499 /);
  t.false(JSON.stringify(f).includes(SECRET_ENV_VALUE));
  t.false((await dumpRedis(s.stack.redis.client)).includes(SECRET_ENV_VALUE));
  // The watcher read env values to redact: that read is not reported as someone viewing them.
  t.false((await findings(cy.agent)).some((x) => x.rule === 'view_env_var_values'));
});

test.serial('service events that mean silent failure become findings (OOM, failed, unhealthy)', async (t) => {
  const di = await tenant(s.stack, 'di-events');
  await enable(di.agent);
  const svc = di.services[0]!.id;
  const add = (type: string, details: unknown) => simControl('/events', { serviceId: svc, type, details });
  await add('server_failed', { reason: { oomKilled: { memoryLimit: '512Mi' } } });
  await add('server_failed', { reason: { nonZeroExit: 1 } });
  await add('server_unhealthy', {});
  const list = await waitFor('event findings', async () => { const l = await findings(di.agent); return l.length >= 3 ? l : null; });
  t.deepEqual(list.map((f) => `${f.rule}:${f.severity}`).sort(), ['server_failed:high', 'server_oom:high', 'server_unhealthy:medium']);
  t.true(list.every((f) => f.serviceId === svc && f.kind === 'service_event'));
});

test.serial('a plan without audit logs (403) is shown plainly and the app-log watch continues', async (t) => {
  const ed = await tenant(s.stack, 'ed-plan');
  s.stack.render.setAuditLogAccess(ed.apiKey, false);
  await enable(ed.agent);
  await simControl('/logs', { resourceId: ed.services[0]!.id, messages: ['panic: runtime error: index out of range [3] with length 3'] });
  const f = await waitFor('panic finding', async () => (await findings(ed.agent)).find((x) => x.rule === 'app_log_panic'));
  t.is(f.severity, 'high');
  const view = await ed.agent.get('/api/sentinel');
  t.deepEqual(view.json.auditLogUnavailable.map((o: any) => o.ownerId), [ed.ownerId]);
  t.true(view.json.notices.some((n: string) => n.includes('no audit log API') && n.includes('app-log watch continues')));
});

test.serial('more service events than one page since the last round: the older ones are read too, none is lost', async (t) => {
  const fay = await tenant(s.stack, 'fay-events');
  const svc = fay.services[0]!.id;
  const add = (type: string, details?: unknown) => simControl('/events', { serviceId: svc, type, details });
  // The OOM comes first, then a busy stretch of ordinary events (Render lists them newest first).
  t.true((await add('server_failed', { reason: { oomKilled: { memoryLimit: '512Mi' } } })).ok);
  for (let i = 0; i < 120; i++) await add(i % 2 ? 'deploy_started' : 'build_started');
  await enable(fay.agent);
  await waitFor('a round', async () => (await fay.agent.get('/api/sentinel')).json.lastRunAt);
  t.deepEqual((await findings(fay.agent)).map((f) => f.rule), ['server_oom']);
});

test.serial('a service deleted between the round\'s list and its events and logs calls is skipped: no "Render did not answer" notice', async (t) => {
  const gus = await tenant(s.stack, 'gus-gone', ['stays', 'goes']);
  await enable(gus.agent); // a first round, to have one to wait past
  await waitFor('a first round', async () => (await gus.agent.get('/api/sentinel')).json.lastRunAt);
  const calls = ['/services/{serviceId}/events', '/services/{serviceId}/events', '/logs'].map((route) => s.stack.render.holdRequest({ route, apiKey: gus.apiKey }));
  await Promise.all(calls.map((c) => c.arrived)); // the next round listed both services and asked for their events and logs
  const deleted = await fetch(`${s.stack.render.url}/services/${gus.services[1]!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${gus.apiKey}` } });
  t.is(deleted.status, 204);
  const before = (await gus.agent.get('/api/sentinel')).json.lastRunAt;
  for (const c of calls) c.release();
  const after = await waitFor('the round after the deletion', async () => { const v = (await gus.agent.get('/api/sentinel')).json; return v.lastRunAt !== before ? v : null; });
  t.deepEqual(after.notices, []);
});

test.serial('the page counts every finding kept (up to 500), not only the newest 200', async (t) => {
  const eve = await tenant(s.stack, 'eve-many');
  const userId = (await eve.agent.get('/api/session')).json.user.id as number;
  const keys = sentinelKeys(s.stack.config.redisPrefix);
  // Written as the store keeps them (a hash of findings, their order by time): 250 from earlier rounds.
  const write = s.stack.redis.client.multi();
  for (let i = 0; i < 250; i++) {
    const at = new Date(Date.now() - (i + 1) * 60_000).toISOString();
    const f = { id: `fnd_many${String(i).padStart(16, '0')}`, kind: 'audit', rule: 'start_shell', severity: i < 220 ? 'medium' : 'high', title: 'Shell opened into a service', ownerId: eve.ownerId, serviceId: null, count: 1, firstAt: at, lastAt: at };
    write.hset(keys.findings(userId), f.id, JSON.stringify(f)).zadd(keys.order(userId), Date.parse(at), f.id);
  }
  await write.exec();
  const view = await eve.agent.get('/api/sentinel');
  t.deepEqual(view.json.counts, { high: 30, medium: 220, low: 0, total: 250 });
});
