import test, { type ExecutionContext } from 'ava';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { systemClock } from '../../server/clock.js';
import { createAuditLog, type AuditLog } from '../../server/audit/auditLog.js';
import type { AuditEntry } from '../../server/audit/types.js';
import { createSecurityEvents } from '../../server/security/events.js';
import { createSlackAlerter } from '../../server/alerts/slack.js';
import { createLogger } from '../../server/logger.js';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { addNodeRepo } from '../helpers/pipeline.js';

// Serial: the tests share one Slack receiver and count its messages.
// Security events through the real app: each one lands in the audit trail and posts a Slack alert
// to a local receiver (plain http, allowed through the guard's allowHosts test seam).

let stack: Stack;
let audit: AuditLog;
let slack: { server: Server; texts: string[]; url: string; host: string };

test.before(async () => {
  const texts: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { texts.push(JSON.parse(body).text); res.end('ok'); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  slack = { server, texts, host, url: `http://${host}/services/T0/B0/hooksecret` };
  stack = await startStack({
    env: { TRUST_PROXY: 'true' },
    appOptions: {
      security: {
        limits: { failedSignIns: { threshold: 3, windowSec: 60 }, notFoundProbes: { threshold: 3, windowSec: 60 } },
        alerts: { webhookUrl: slack.url, guard: { allowHosts: [host] } },
      },
    },
  });
  audit = createAuditLog({ redis: stack.redis.client, prefix: stack.redis.prefix, clock: systemClock, keyring: stack.web.deps.keyring });
});
test.after.always(async () => {
  await stack?.close();
  await new Promise((r) => slack?.server.close(r));
});

let ipCounter = 20;
const freshIp = () => `198.51.100.${ipCounter++}`;

/** Alerts are sent after the response; wait (bounded) for one that matches. */
async function alertMatching(pattern: RegExp): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const hit = slack.texts.find((x) => pattern.test(x));
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no Slack alert matching ${pattern}; got ${JSON.stringify(slack.texts)}`);
}

async function userEntries(agent: Agent): Promise<Array<{ action: string; outcome: string; detail: Record<string, unknown> }>> {
  const res = await agent.get('/api/audit?limit=100');
  if (res.status !== 200) throw new Error(`audit: ${res.status}`);
  return res.json.entries;
}

async function globalEntries(): Promise<AuditEntry[]> {
  return (await stack.redis.client.lrange(audit.keys('global').entries, 0, -1)).map((r) => JSON.parse(r));
}

/** A signed-in user (their own network and Render key) who asked for a deploy of a new repository. */
async function ownerWithDeployment(t: ExecutionContext, login: string, repo: string) {
  const owner = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(owner, login);
  const ownerKey = `rnd_${login}${'o'.repeat(24)}`;
  stack.render.addAccount({ apiKey: ownerKey });
  t.is((await owner.post('/api/render/setup', { api_key: ownerKey })).status, 200);
  addNodeRepo(stack, login, repo);
  const dep = await owner.post('/api/render/deploy', { github_repo: `${login}/${repo}`, project_name: repo });
  t.is(dep.status, 202);
  return { owner, dep };
}

test.serial('repeated failed sign-ins from one IP: audit entries, one security event, one Slack alert', async (t) => {
  const ip = freshIp();
  const agent = stack.agent({ 'x-forwarded-for': ip });
  for (let i = 0; i < 4; i++) t.is((await agent.get('/api/auth/github/callback?code=stolen&state=forged')).status, 302);
  const text = await alertMatching(new RegExp(`repeated_sign_in_failures.*${ip.replace(/\./g, '\\.')}`));
  t.false(text.includes('stolen') || text.includes('forged'), 'no OAuth parameters in the alert');
  const mine = (await globalEntries()).filter((e) => e.detail.ip === ip);
  // One entry per failure up to the threshold (3 here); the 4th is counted, not entered.
  t.is(mine.filter((e) => e.action === 'sign_in_failed').length, 3);
  const events = mine.filter((e) => e.action === 'security');
  t.is(events.length, 1, 'raised once when the threshold was reached');
  t.like(events[0]!, { userId: null, outcome: 'failure', detail: { securityEvent: 'repeated_sign_in_failures', count: 3, reason: 'github_login_failed' } });
  t.true((await audit.verifyChain('global')).valid);
});

test.serial('a flood of failing OAuth returns from one network adds a few entries to the global chain, not one each', async (t) => {
  // Anyone can send them, and each was an entry of the global chain, which is trimmed by count: a few
  // networks could push older entries, security events among them, out of it.
  const ip = freshIp();
  const agent = stack.agent({ 'x-forwarded-for': ip });
  const before = (await globalEntries()).length;
  for (let i = 0; i < 25; i++) t.is((await agent.get('/api/auth/github/callback?code=x&state=forged')).status, 302);
  const mine = (await globalEntries()).filter((e) => e.detail.ip === ip);
  t.is(mine.filter((e) => e.action === 'sign_in_failed').length, 3, 'the first three, up to the threshold');
  // And the count as it doubles: 3, 6, 12, 24.
  t.deepEqual(mine.filter((e) => e.action === 'security').map((e) => e.detail.count), [3, 6, 12, 24]);
  t.is((await globalEntries()).length - before, 7);
  t.true((await audit.verifyChain('global')).valid);
});

test.serial('an invalid Render key is a security event in the user\'s trail and an alert without the key', async (t) => {
  const agent = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(agent, 'typo');
  const badKey = `rnd_typotypotypo${'x'.repeat(16)}`;
  t.is((await agent.post('/api/render/setup', { api_key: badKey })).status, 400);
  const text = await alertMatching(/invalid_render_key.*typo/);
  t.false(text.includes(badKey) || text.includes('typotypotypo'));
  const entry = (await userEntries(agent)).find((e) => e.action === 'render_key_invalid');
  t.like(entry, { outcome: 'failure', detail: { securityEvent: 'invalid_render_key', reason: 'unauthorized', route: '/api/render/setup' } });
  t.false(JSON.stringify(await userEntries(agent)).includes(badKey));
});

test.serial('a session used from another client is ended (401), audited and alerted', async (t) => {
  const ip = freshIp();
  const agent = stack.agent({ 'x-forwarded-for': ip, 'user-agent': 'Browser/1.0 (the real one)' });
  await stack.signIn(agent, 'victim');
  t.is((await agent.get('/api/session')).status, 200);

  // The cookie, replayed from another client.
  const thief = stack.agent({ 'x-forwarded-for': '192.0.2.66', 'user-agent': 'curl/8.0' });
  for (const [k, v] of agent.jar) thief.jar.set(k, v);
  const stolen = await thief.get('/api/render/status');
  t.is(stolen.status, 401);
  t.is(stolen.json.error.code, 'unauthenticated');
  t.is((await agent.get('/api/session')).status, 401, 'the session is gone for everyone, the real client signs in again');

  await alertMatching(/client_changed.*victim/);
  const again = stack.agent({ 'x-forwarded-for': ip, 'user-agent': 'Browser/1.0 (the real one)' });
  await stack.signIn(again, 'victim');
  const event = (await userEntries(again)).find((e) => e.action === 'security');
  t.like(event, { outcome: 'denied', detail: { securityEvent: 'client_changed', ip: '192.0.2.66' } });
  t.is((await again.get('/api/session')).status, 200, 'the same client keeps working');
});

test.serial('cross-tenant probes: another user\'s deployment id at once, many unknown service ids at the threshold', async (t) => {
  const { owner, dep } = await ownerWithDeployment(t, 'owner', 'private-app');

  const prober = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(prober, 'prober');
  const proberKey = `rnd_prober${'p'.repeat(24)}`;
  stack.render.addAccount({ apiKey: proberKey });
  t.is((await prober.post('/api/render/setup', { api_key: proberKey })).status, 200);
  t.is((await prober.get(`/api/render/deployments/${dep.json.id}`)).status, 404);
  await alertMatching(/cross_tenant_probe.*prober.*deployment/);
  const proberId = (await prober.get('/api/session')).json.user.id;
  const foreign = (await globalEntries()).find((e) => e.userId === proberId && e.detail.securityEvent === 'cross_tenant_probe');
  t.like(foreign, { action: 'security', outcome: 'denied', detail: { resource: 'deployment', deploymentId: dep.json.id, reason: 'foreign_id' } });
  // Not in the prober's own trail: there it would confirm that the id exists, which the 404 hides.
  const proberTrail = JSON.stringify(await userEntries(prober));
  t.false(proberTrail.includes(dep.json.id));
  t.false(proberTrail.includes('cross_tenant_probe'));

  // Unknown service ids: Render answers 404 for the prober's key; the third 404 in the window is an event.
  const scanner = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(scanner, 'scanner');
  const scannerKey = `rnd_scanner${'s'.repeat(24)}`;
  stack.render.addAccount({ apiKey: scannerKey });
  t.is((await scanner.post('/api/render/setup', { api_key: scannerKey })).status, 200);
  for (const c of ['a', 'b', 'c']) t.is((await scanner.post(`/api/render/services/srv-${c.repeat(20)}/suspend`)).status, 404);
  const scannerId = (await scanner.get('/api/session')).json.user.id;
  const scan = (await globalEntries()).filter((e) => e.userId === scannerId && e.detail.securityEvent === 'cross_tenant_probe');
  t.is(scan.length, 1);
  t.like(scan[0], { detail: { resource: 'service', reason: 'many_not_found', count: 3, serviceId: `srv-${'c'.repeat(20)}` } });
  await alertMatching(/cross_tenant_probe.*scanner/);

  // Neither the owner's trail nor the scanner's says anything about it; the global chain still verifies.
  t.false((await userEntries(owner)).some((e) => e.action === 'security'));
  t.false((await userEntries(scanner)).some((e) => e.action === 'security'));
  t.true((await audit.verifyChain('global')).valid);
});

// A link to this app's page for someone else's deployment (shared by a teammate, or put on another
// site to get visitors reported): the UI's read of the id in its address says so, and is noted, not
// reported. Any client can send the header, so a bearer client's is ignored and the read still counts.
test.serial('another user\'s deployment id read from the UI\'s page address is a note in the global chain, not a probe event', async (t) => {
  const { dep } = await ownerWithDeployment(t, 'linkowner', 'shared-app');

  const visitor = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(visitor, 'linkvisitor');
  const visitorId = (await visitor.get('/api/session')).json.user.id;
  const fromAddress = { headers: { 'x-opened-from': 'address' } };
  const opened = await visitor.get(`/api/render/deployments/${dep.json.id}`, fromAddress);
  t.is(opened.status, 404);
  t.is((await visitor.get(`/api/render/deployments/${dep.json.id}`, fromAddress)).status, 404);
  const visitorGlobal = (await globalEntries()).filter((e) => e.userId === visitorId);
  t.false(visitorGlobal.some((e) => e.detail.securityEvent === 'cross_tenant_probe'), 'no probe event, so no alert');
  const notes = visitorGlobal.filter((e) => e.detail.reason === 'foreign_id_in_page_address');
  t.is(notes.length, 1, 'noted once a window');
  t.like(notes[0], { action: 'security', outcome: 'denied', detail: { resource: 'deployment', deploymentId: dep.json.id } });
  t.false(JSON.stringify(await userEntries(visitor)).includes(dep.json.id), 'not in the visitor\'s own trail');

  // The same reads count toward the many-404s event (3 here): the header hides no scan.
  const unknown = await visitor.get('/api/render/deployments/dep-none-such-id', fromAddress);
  t.deepEqual(unknown.json, opened.json, 'the same 404 as an unknown id');
  const scan = (await globalEntries()).filter((e) => e.userId === visitorId && e.detail.securityEvent === 'cross_tenant_probe');
  t.like(scan, [{ detail: { reason: 'many_not_found', count: 3 } }]);

  // A write sending the header (the UI never does): a probe, as without it. A cookie session writes with its token.
  const fresh = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(fresh, 'linkcanceler');
  const freshId = (await fresh.get('/api/session')).json.user.id;
  t.is((await fresh.post(`/api/render/deployments/${dep.json.id}/cancel`, {}, fromAddress)).status, 404);
  t.like((await globalEntries()).find((e) => e.userId === freshId && e.detail.securityEvent === 'cross_tenant_probe'), { detail: { reason: 'foreign_id' } });

  // A bearer client sending the header: a probe, as without it.
  stack.github.addUser({ login: 'linkscript' });
  const token = stack.github.issueToken('linkscript');
  const script = stack.agent({ 'x-forwarded-for': freshIp(), authorization: `Bearer ${token}` });
  const scriptId = (await script.get('/api/session')).json.user.id;
  t.is((await script.get(`/api/render/deployments/${dep.json.id}`, fromAddress)).status, 404);
  const probe = (await globalEntries()).find((e) => e.userId === scriptId && e.detail.securityEvent === 'cross_tenant_probe');
  t.like(probe, { detail: { reason: 'foreign_id', deploymentId: dep.json.id } });
  t.true((await audit.verifyChain('global')).valid);
});

// Issue 11 part 4: probes cannot be used to grow the global chain. However many 404s a user
// causes in a window, they are one entry with a count; the counter and Redis stay small.
test.serial('cross-tenant probes are aggregated: one audit entry per user per window, with a count', async (t) => {
  const owner = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(owner, 'owner2');
  const ownerKey = `rnd_ownertwo${'o'.repeat(24)}`;
  stack.render.addAccount({ apiKey: ownerKey });
  t.is((await owner.post('/api/render/setup', { api_key: ownerKey })).status, 200);
  addNodeRepo(stack, 'owner2', 'secret-app');
  const dep = await owner.post('/api/render/deploy', { github_repo: 'owner2/secret-app', project_name: 'secret-app' });
  t.is(dep.status, 202);

  const hammer = stack.agent({ 'x-forwarded-for': freshIp() });
  await stack.signIn(hammer, 'hammer');
  const hammerKey = `rnd_hammer${'h'.repeat(24)}`;
  stack.render.addAccount({ apiKey: hammerKey });
  t.is((await hammer.post('/api/render/setup', { api_key: hammerKey })).status, 200);
  const hammerId = (await hammer.get('/api/session')).json.user.id;
  const globalBefore = Number(await stack.redis.client.hget(audit.keys('global').head, 'seq'));
  for (let i = 0; i < 25; i++) t.is((await hammer.get(`/api/render/deployments/${dep.json.id}`)).status, 404);
  for (let i = 0; i < 5; i++) t.is((await hammer.post(`/api/render/deployments/${dep.json.id}/cancel`)).status, 404);
  const probes = (await globalEntries()).filter((e) => e.userId === hammerId && e.detail.securityEvent === 'cross_tenant_probe');
  t.is(probes.length, 1, 'one entry for the window, not one per 404');
  t.like(probes[0], { detail: { resource: 'deployment', reason: 'foreign_id', count: 1 } });
  t.is(Number(await stack.redis.client.hget(audit.keys('global').head, 'seq')) - globalBefore, 1, 'the global chain grew by one entry');
  t.false((await userEntries(hammer)).some((e) => e.action === 'security'));
});

test.serial('events module: one audit entry and one counter tick per event; alerts throttled per type and subject', async (t) => {
  const counted: string[] = [];
  const prefix = `${stack.redis.prefix}ev`;
  const log = createAuditLog({ redis: stack.redis.client, prefix, clock: systemClock, keyring: stack.web.deps.keyring });
  const logger = createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
  const before = slack.texts.length;
  const events = createSecurityEvents({
    audit: log, redis: stack.redis.client, prefix, cooldownSec: 60, logger, onEvent: (type) => counted.push(type),
    alerter: createSlackAlerter({ webhookUrl: slack.url, logger, guard: { allowHosts: [slack.host] } }),
  });
  for (let i = 0; i < 3; i++) await events.raise({ type: 'client_changed', userId: 7, login: 'seven', subject: 'user:7', detail: { ip: '203.0.113.1' } });
  await events.raise({ type: 'client_changed', userId: 8, login: 'eight', subject: 'user:8', detail: {} });
  t.deepEqual(counted, ['client_changed', 'client_changed', 'client_changed', 'client_changed']);
  t.deepEqual(events.counts(), { client_changed: 4 });
  t.is((await log.listForUser(7, { limit: 10 })).entries.length, 3);
  await alertMatching(/eight/);
  await new Promise((r) => setTimeout(r, 100));
  t.is(slack.texts.length - before, 2, 'one alert per subject within the cooldown');
});

test.serial('alerts never carry secrets, and the webhook URL never reaches the log', (t) => {
  t.true(slack.texts.length >= 5, 'runs after the tests above produced alerts');
  const all = slack.texts.join('\n');
  t.false(/rnd_[A-Za-z0-9]{4}/.test(all));
  t.false(/gh[opsu]_/.test(all));
  t.false(stack.logs.join('').includes('hooksecret'));
});
