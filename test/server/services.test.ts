import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { createServiceCache } from '../../server/render/serviceCache.js';
import { presentService, previewOf, type PresentedService } from '../../server/presenters/service.js';
import type { Service } from '../../server/render/types.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { renderCalls } from '../helpers/pipeline.js';
import { supersededDeploy } from '../helpers/attackTenants.js';
import { createService, listCalls as listCallsOf, names, tenant as tenantOf, type Tenant } from './support/renderTenants.js';

// GET /api/render/services (cached, single-flight) and the service lifecycle routes, through the
// real web process and the Render simulator, each user with their own key.

let stack: Stack;
// Tests create many services straight through the simulator; lift its creation limits (not the app's budget).
// The file ends with the secret scan: no Render key or GitHub token anywhere.
useScannedStack(test, { renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } } }, (s) => ({ stack } = s));

// state and latestDeploy since issue 12 (a card shows its latest deploy's outcome).
const SERVICE_FIELDS = ['beenLive', 'branch', 'createdAt', 'dashboardUrl', 'id', 'latestDeploy', 'name', 'ownerId', 'plan', 'previewOf', 'region', 'repo', 'runtime', 'state', 'suspended', 'type', 'updatedAt', 'url'];

const tenant = (name: string) => tenantOf(stack, name);
const listCalls = (tn: Tenant) => listCallsOf(stack, tn);

async function liveDeployOf(tn: Tenant, serviceId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const live = (await tn.render.listDeploys(serviceId)).find((d) => d.status === 'live');
    if (live) return live.id;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no deploy went live');
}

test('lists the caller\'s services through their own key, whitelisted', async (t) => {
  const ada = await tenant('svc-ada');
  const other = await tenant('svc-other');
  await createService(ada, 'ada-web');
  await createService(ada, 'ada-api');
  await createService(other, 'other-web');
  const res = await ada.agent.get('/api/render/services');
  t.is(res.status, 200, res.text);
  t.deepEqual(names(res), ['ada-api', 'ada-web']);
  for (const s of res.json.services) t.deepEqual(Object.keys(s).sort(), SERVICE_FIELDS);
  t.like(res.json.services.find((s: PresentedService) => s.name === 'ada-web'), {
    type: 'web_service', ownerId: ada.account.ownerId, repo: 'https://github.com/acme/ada-web', branch: 'main',
    suspended: false, region: 'oregon', plan: 'starter', runtime: 'node',
  });
  t.regex(res.json.services[0].url, /^https:\/\//);
  t.false(res.text.includes(ada.apiKey));
  t.false(res.text.includes('npm start'), 'no env-specific details leave the server');
});

// Render lists pull request previews with the services (includePreviews defaults to true): each says whose
// preview it is, so the dashboard does not show one as a service of its own; the others say null.
test('a pull request preview in the list names the service it previews', async (t) => {
  const pat = await tenant('svc-pat');
  const web = await createService(pat, 'pat-web');
  const preview = stack.render.addPreview(web.id, { pullRequest: 5 });
  const res = await pat.agent.get('/api/render/services');
  t.is(res.status, 200, res.text);
  const byId = new Map(res.json.services.map((s: PresentedService) => [s.id, s]));
  t.deepEqual((byId.get(preview) as PresentedService | undefined)?.previewOf, { id: web.id, name: 'pat-web' });
  t.is((byId.get(web.id) as PresentedService | undefined)?.previewOf, null);
});

// What Render (or anything posing as it) says in parentServer is taken only as text: a preview names a
// parent by a string id; anything else is no preview, never an error, an object or a number shown as one.
test('previewOf reads parentServer only as a whole string id (name defaults to it); other shapes are no preview', (t) => {
  const base = { id: 'srv-a', name: 'a', type: 'web_service', ownerId: 'tea-1', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', suspended: 'not_suspended' } as unknown as Service;
  const withParent = (parentServer: unknown) => ({ ...base, serviceDetails: { parentServer } }) as unknown as Service;
  t.deepEqual(previewOf(withParent({ id: 'srv-p', name: 'p' })), { id: 'srv-p', name: 'p' });
  t.deepEqual(previewOf(withParent({ id: 'srv-p' })), { id: 'srv-p', name: 'srv-p' });
  t.deepEqual(previewOf(withParent({ id: 'srv-p', name: { nested: 'x' } })), { id: 'srv-p', name: 'srv-p' });
  for (const odd of [null, 'srv-p', 42, [], { id: '' }, { id: 7 }, { id: { id: 'srv-p' } }, { name: 'p' }]) t.is(previewOf(withParent(odd)), null, JSON.stringify(odd));
  t.is(previewOf(base), null, 'no serviceDetails');
  t.is(presentService(withParent({ id: 5 })).previewOf, null);
});

test('follows every page of Render\'s list', async (t) => {
  const many = await tenant('svc-many');
  for (let i = 0; i < 105; i++) await createService(many, `many-${i}`);
  const res = await many.agent.get('/api/render/services');
  t.is(res.status, 200, res.text);
  t.is(res.json.services.length, 105);
  t.is(new Set(res.json.services.map((s: PresentedService) => s.id)).size, 105);
  t.is(listCalls(many), 2, '100 + 5');
});

test('50 concurrent list requests from one user make one round of Render calls', async (t) => {
  const busy = await tenant('svc-busy');
  await createService(busy, 'busy-web');
  const results = await Promise.all(Array.from({ length: 50 }, () => busy.agent.get('/api/render/services')));
  t.true(results.every((r) => r.status === 200), results.map((r) => r.status).join(','));
  t.true(results.every((r) => r.json.services.length === 1));
  t.is(listCalls(busy), 1);
  // And polling inside the cache window spends nothing more.
  await busy.agent.get('/api/render/services');
  t.is(listCalls(busy), 1);
});

test('a list load reads the services our records name while Render answers, not after', async (t) => {
  const kit = await tenant('svc-kit');
  await createService(kit, 'kit-web');
  const userId = (await kit.agent.get('/api/session')).json.user.id as number;
  const redis = stack.web.deps.redis;
  const original = redis.sendCommand.bind(redis);
  type Args = Parameters<typeof original>;
  // Render list calls already made when the records' service index was read (other tests' commands pass by).
  const listCallsAtRead: number[] = [];
  redis.sendCommand = (command: Args[0], stream?: Args[1]) => {
    if (command.name === 'hgetall' && String(command.args[0]).endsWith(`:user:${userId}:services`)) listCallsAtRead.push(listCalls(kit));
    return original(command, stream);
  };
  t.teardown(() => { redis.sendCommand = original; });
  t.deepEqual(names(await kit.agent.get('/api/render/services')), ['kit-web']);
  t.deepEqual(listCallsAtRead, [0], 'read once, before the Render list was asked for');
});

test('a list whose lookup failed starts no more of its lookups: only those already out finish', async (t) => {
  const fay = await tenant('svc-fay');
  const SERVICES = 30;
  for (let i = 0; i < SERVICES; i++) await createService(fay, `fay-${i}`);
  const route = '/services/{serviceId}/deploys';
  // The load looks deploys up 6 at a time (DEPLOY_LOOKUPS): the first 5 wait on Render while the 6th fails.
  const holds = Array.from({ length: 5 }, () => stack.render.holdRequest({ method: 'GET', route, apiKey: fay.apiKey }));
  stack.render.setFault({ method: 'GET', route, apiKey: fay.apiKey, kind: 'status', status: 500, every: 6, count: 1 });
  const failed = await fay.agent.get('/api/render/services');
  t.not(failed.status, 200, 'the list is lost with one of its lookups');
  // Newest-deploy lookups (one per service looked at); the been-live one asks with ?status=.
  const lookups = () => renderCalls(stack, fay.account.id, 'GET', route).filter((c) => new URLSearchParams(c.query).get('limit') === '1').length;
  t.is(lookups(), 6);
  for (const hold of holds) hold.release();
  // The next read loads again (nothing was cached): when it has answered, the failed load's lanes have
  // had as long as a whole load to go on. On the old code they did: up to 24 more lookups for nobody.
  const next = await fay.agent.get('/api/render/services');
  t.is(next.status, 200, next.text);
  t.is(next.json.services.length, SERVICES);
  t.is(lookups(), 6 + SERVICES, 'the failed load started none after its failure');
});

test('single flight across processes: two caches on one Redis load once', async (t) => {
  const prefix = `${stack.redis.prefix}-xproc`;
  const caches = [0, 1].map(() => createServiceCache({ redis: stack.web.deps.redis, prefix, pollMs: 10 }));
  let loads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const load = async (): Promise<PresentedService[]> => { loads++; await gate; return []; };
  const scope = { userId: 42, keyFingerprint: 'fp-xproc', ownerIds: ['tea-1'] };
  const pending = Array.from({ length: 20 }, (_, i) => caches[i % 2]!.get(scope, load));
  await new Promise((r) => setTimeout(r, 50)); // let the second process reach its wait loop
  release();
  const lists = await Promise.all(pending);
  t.is(loads, 1);
  t.true(lists.every((l) => Array.isArray(l) && l.length === 0));
  await caches[1]!.invalidate(scope);
  await caches[0]!.get(scope, load);
  t.is(loads, 2, 'invalidation on one process is seen by the other');
});

test('suspend invalidates the cached list', async (t) => {
  const sam = await tenant('svc-sam');
  const svc = await createService(sam, 'sam-web');
  const before = await sam.agent.get('/api/render/services');
  t.false(before.json.services[0].suspended);
  t.is(listCalls(sam), 1);
  const res = await sam.agent.post(`/api/render/services/${svc.id}/suspend`);
  t.is(res.status, 200, res.text);
  t.true(res.json.ok);
  t.true(res.json.service.suspended);
  const after = await sam.agent.get('/api/render/services');
  t.true(after.json.services[0].suspended, 'not the cached copy');
  t.is(listCalls(sam), 2);
});

test('redeploy: 202 with a new deployment record the worker will pick up', async (t) => {
  const rhea = await tenant('svc-rhea');
  const svc = await createService(rhea, 'rhea-web');
  const res = await rhea.agent.post(`/api/render/services/${svc.id}/redeploy`);
  t.is(res.status, 202, res.text);
  t.like(res.json, { kind: 'redeploy', status: 'queued', serviceId: svc.id });
  t.is(res.json.request.serviceName, 'rhea-web');
  t.is(res.json.request.githubRepo, 'acme/rhea-web');
  t.is(res.headers.get('location'), `/api/render/deployments/${res.json.id}`);
  const rec = await rhea.agent.get(`/api/render/deployments/${res.json.id}`);
  t.is(rec.status, 200);
  t.is(rec.json.status, 'queued');
  t.is(rec.json.kind, 'redeploy');
  const mine = await rhea.agent.get('/api/render/my-deployments');
  t.true(mine.json.deployments.some((d: { id: string }) => d.id === res.json.id));
});

test('rollback: 202 record for an earlier deploy of that service that went live; the one live now 409, other deploys 404, bad ids 400', async (t) => {
  const rob = await tenant('svc-rob');
  const svc = await createService(rob, 'rob-web');
  const sibling = await createService(rob, 'rob-api');
  const [deployId, siblingDeploy] = await Promise.all([supersededDeploy(rob.render, svc.id), liveDeployOf(rob, sibling.id)]);
  // The deploy live now: Render would build it again and restart the service for nothing (its history row says
  // rollbackable false). Refused, nothing made.
  const liveNow = await liveDeployOf(rob, svc.id);
  const history = await rob.agent.get(`/api/render/services/${svc.id}/deploys`);
  t.like(history.json.deploys.find((d: { id: string }) => d.id === liveNow), { current: true, rollbackable: false });
  t.like(history.json.deploys.find((d: { id: string }) => d.id === deployId), { current: false, rollbackable: true });
  const deploysBefore = (await rob.render.listDeploys(svc.id)).length;
  const toLive = await rob.agent.post(`/api/render/services/${svc.id}/rollback`, { deploy_id: liveNow });
  t.is(toLive.status, 409, toLive.text);
  t.is(toLive.json.error.code, 'deploy_not_rollbackable');
  t.regex(toLive.json.error.message, /the one live now/);
  t.deepEqual((await rob.agent.get('/api/render/my-deployments')).json.deployments, [], 'no record made');
  t.is((await rob.render.listDeploys(svc.id)).length, deploysBefore, 'no deploy on Render');

  const res = await rob.agent.post(`/api/render/services/${svc.id}/rollback`, { deploy_id: deployId });
  t.is(res.status, 202, res.text);
  t.like(res.json, { kind: 'rollback', status: 'queued', serviceId: svc.id });
  t.is((await rob.agent.get(`/api/render/deployments/${res.json.id}`)).json.kind, 'rollback');
  const stored = await stack.web.deps.deployments.get(res.json.id);
  t.is(stored?.rollbackToDeployId, deployId);

  const wrongService = await rob.agent.post(`/api/render/services/${svc.id}/rollback`, { deploy_id: siblingDeploy });
  t.is(wrongService.status, 404);
  for (const body of [{}, { deploy_id: 'dep-short' }, { deploy_id: deployId, extra: 1 }, { deploy_id: 42 }]) {
    const bad = await rob.agent.post(`/api/render/services/${svc.id}/rollback`, body);
    t.is(bad.status, 400, JSON.stringify(body));
    t.is(bad.json.error.code, 'validation_failed');
  }
});

test('a rollback to a deploy Render does not know for the service is a 404 about the deploy: the service is not taken for deleted', async (t) => {
  const rue = await tenant('svc-rue');
  const svc = await createService(rue, 'rue-web');
  const sibling = await createService(rue, 'rue-api');
  const siblingDeploy = await liveDeployOf(rue, sibling.id);
  const ours = await rue.agent.post(`/api/render/services/${svc.id}/redeploy`); // a record of ours names the service
  t.is(ours.status, 202, ours.text);
  for (const deployId of [`dep-${'0'.repeat(20)}`, siblingDeploy]) {
    const res = await rue.agent.post(`/api/render/services/${svc.id}/rollback`, { deploy_id: deployId });
    t.is(res.status, 404, res.text);
    t.deepEqual(res.json, { error: { code: 'not_found', message: 'Deploy not found.' } });
  }
  t.false((await rue.agent.get(`/api/render/deployments/${ours.json.id}`)).json.serviceDeleted, 'the service is still on Render');
});

// A deploy the service does not have says nothing about anyone else's services (Render answers 404 for any
// deploy not of this service, the caller's own included): such rollbacks were counted as 404s on service
// ids, and a user (or a CI job) retrying one was reported as a cross-tenant prober.
test('rollbacks to a deploy the service does not have are not counted as probes of service ids', async (t) => {
  const pia = await tenant('svc-pia');
  const svc = await createService(pia, 'pia-web');
  const sibling = await createService(pia, 'pia-api');
  const siblingDeploy = await liveDeployOf(pia, sibling.id);
  const userId = (await pia.agent.get('/api/session')).json.user.id as number;
  const { threshold } = stack.web.deps.security.limits.notFoundProbes;
  for (let i = 0; i < threshold + 1; i++) {
    const res = await pia.agent.post(`/api/render/services/${svc.id}/rollback`, { deploy_id: i % 2 ? siblingDeploy : `dep-${String(i).padStart(20, '0')}` });
    t.is(res.status, 404, res.text);
    t.is(res.json.error.message, 'Deploy not found.');
  }
  const global = await stack.web.deps.redis.lrange(stack.web.deps.audit.keys('global').entries, 0, -1);
  const probes = global.map((x) => JSON.parse(x) as { userId: number | null; detail: { securityEvent?: string } })
    .filter((e) => e.userId === userId && e.detail.securityEvent === 'cross_tenant_probe');
  t.is(probes.length, 0, 'no cross-tenant probe reported');
});

// Render answers 404 on a service's deploy both when the deploy is not this service's and when the service
// itself was deleted (on Render's dashboard, by another tab) after the route found it. The second is the
// service's 404, with a deleted service's records and list, as the settings routes answer it (b5c4105).
test('a service deleted on Render while its rollback is on its way: the service\'s 404, not the deploy\'s, and it leaves the list', async (t) => {
  const ria = await tenant('svc-ria');
  const svc = await createService(ria, 'ria-web');
  const deployId = await liveDeployOf(ria, svc.id);
  const ours = await ria.agent.post(`/api/render/services/${svc.id}/redeploy`); // a record of ours names the service
  t.is(ours.status, 202, ours.text);
  const listed = async () => ((await ria.agent.get('/api/render/services')).json.services as Array<{ id: string }>).map((s) => s.id);
  t.true((await listed()).includes(svc.id), 'the cached list has it');
  // Held after the route has found the service, let go once it is gone.
  const held = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', apiKey: ria.apiKey });
  const answer = ria.agent.post(`/api/render/services/${svc.id}/rollback`, { deploy_id: deployId });
  await held.arrived;
  await ria.render.deleteService(svc.id);
  held.release();
  const res = await answer;
  t.is(res.status, 404, res.text);
  t.deepEqual(res.json, { error: { code: 'not_found', message: 'Service not found.' } });
  t.true((await ria.agent.get(`/api/render/deployments/${ours.json.id}`)).json.serviceDeleted, 'its deployments say it was deleted');
  t.false((await listed()).includes(svc.id), 'the list is read again once the orchestrator knows the service is gone');
  const gone = await ria.agent.post(`/api/render/services/${`srv-${'0'.repeat(20)}`}/rollback`, { deploy_id: deployId });
  t.deepEqual(res.json, gone.json, 'as for a service that does not exist');
});

// The list reads each listed service's latest deploy after the list page: a service deleted on Render in
// between (its Dashboard, another tab, a delete here) made that read a 404, and the whole list (the
// dashboard's, and CI's lookup by name) answered 404 "Resource not found." until the next load.
test('a service deleted on Render while the list reads its latest deploy leaves the list; the list is not a 404', async (t) => {
  const dee = await tenant('svc-dee');
  const kept = await createService(dee, 'dee-kept');
  const gone = await createService(dee, 'dee-gone');
  const ours = await dee.agent.post(`/api/render/services/${gone.id}/redeploy`); // a record of ours names the service
  t.is(ours.status, 202, ours.text);
  // Both deploy reads held once the list page has named the services, let go once one service is deleted.
  const holds = [0, 1].map(() => stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: dee.apiKey }));
  const answer = dee.agent.get('/api/render/services');
  await Promise.all(holds.map((h) => h.arrived));
  await dee.render.deleteService(gone.id);
  for (const h of holds) h.release();
  const res = await answer;
  t.is(res.status, 200, res.text);
  t.deepEqual(names(res), [kept.name]);
  t.true((await dee.agent.get(`/api/render/deployments/${ours.json.id}`)).json.serviceDeleted, 'its deployments say it was deleted');

  // CI's lookup by name reads the latest deploy of the services of that name alike.
  const late = await createService(dee, 'dee-late');
  const held = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys', apiKey: dee.apiKey });
  const lookup = dee.agent.get('/api/render/services/lookup?name=dee-late');
  await held.arrived;
  await dee.render.deleteService(late.id);
  held.release();
  const found = await lookup;
  t.is(found.status, 200, found.text);
  t.deepEqual(found.json, { services: [] });
});

// Render does not deploy a suspended service ("resume it first"). A redeploy or rollback asked of one was
// answered 202, and its deployment then failed in the worker. The route has the service as Render has it
// (suspended included): refused at once, with nothing made.
test('redeploy, clear-cache redeploy and rollback of a suspended service are a 409 service_suspended: no record, no job, no key spent', async (t) => {
  const sue = await tenant('svc-sue');
  const svc = await createService(sue, 'sue-web');
  const deployId = await supersededDeploy(sue.render, svc.id);
  const userId = (await sue.agent.get('/api/session')).json.user.id as number;
  const jobs = async () => (await stack.web.deps.queue.getJobs(['waiting', 'prioritized', 'delayed', 'active'])).filter((j) => j.data.userId === userId).map((j) => j.data.deploymentId).sort();
  const records = async () => ((await sue.agent.get('/api/render/my-deployments?limit=100')).json.deployments as Array<{ id: string }>).map((d) => d.id).sort();
  // Asked before the suspension: its key still answers with what it made.
  const earlier = await sue.agent.post(`/api/render/services/${svc.id}/redeploy`, {}, { headers: { 'idempotency-key': 'sue-earlier' } });
  t.is(earlier.status, 202, earlier.text);
  await sue.render.suspendService(svc.id); // on Render's dashboard, say
  const asks = [
    { path: `/api/render/services/${svc.id}/redeploy`, body: {}, then: 'redeploy' },
    { path: `/api/render/services/${svc.id}/redeploy`, body: { commit_sha: 'a'.repeat(40) }, then: 'redeploy' },
    { path: `/api/render/services/${svc.id}/deploys`, body: { clear_cache: true }, then: 'redeploy' },
    { path: `/api/render/services/${svc.id}/rollback`, body: { deploy_id: deployId }, then: 'roll back' },
  ];
  for (const [i, { path, body, then }] of asks.entries()) {
    const res = await sue.agent.post(path, body, { headers: { 'idempotency-key': `sue-${i}` } });
    t.is(res.status, 409, `${path}: ${res.text}`);
    t.is(res.json.error.code, 'service_suspended', path);
    t.regex(res.json.error.message, new RegExp(`suspended.*[Rr]esume it first, then ${then}`), path);
  }
  t.deepEqual(await records(), [earlier.json.id], 'no record made');
  t.deepEqual(await jobs(), [earlier.json.id], 'no job made');
  const replay = await sue.agent.post(`/api/render/services/${svc.id}/redeploy`, {}, { headers: { 'idempotency-key': 'sue-earlier' } });
  t.is(replay.status, 202, replay.text);
  t.is(replay.json.id, earlier.json.id, 'an ask made before the suspension is replayed, not refused');

  // Resumed, the same asks with the same keys are made: a refused ask spends no key.
  await sue.render.resumeService(svc.id);
  for (const [i, { path, body }] of asks.entries()) {
    const res = await sue.agent.post(path, body, { headers: { 'idempotency-key': `sue-${i}` } });
    t.is(res.status, 202, `${path}: ${res.text}`);
    t.is(res.headers.get('idempotent-replayed'), null, path);
  }
  t.is((await records()).length, 1 + asks.length);
});

test('suspend, resume and delete through the caller\'s key', async (t) => {
  const val = await tenant('svc-val');
  const svc = await createService(val, 'val-web');
  const suspended = await val.agent.post(`/api/render/services/${svc.id}/suspend`);
  t.is(suspended.status, 200, suspended.text);
  t.true(suspended.json.service.suspended);
  t.is((await val.render.getService(svc.id)).suspended, 'suspended');
  const resumed = await val.agent.post(`/api/render/services/${svc.id}/resume`);
  t.is(resumed.status, 200, resumed.text);
  t.false(resumed.json.service.suspended);
  t.is((await val.render.getService(svc.id)).suspended, 'not_suspended');
  const deleted = await val.agent.delete(`/api/render/services/${svc.id}`);
  t.is(deleted.status, 204, deleted.text);
  t.is(deleted.text, '');
  await t.throwsAsync(val.render.getService(svc.id), { message: /could not find/ });
  t.deepEqual((await val.agent.get('/api/render/services')).json.services, []);
  t.is((await val.agent.delete(`/api/render/services/${svc.id}`)).status, 404, 'already gone');
});

test('a delete of a service path with a trailing slash (what a browser makes of an item named ".." under it) is a 404 and deletes nothing', async (t) => {
  // fetch resolves dot segments, even percent-encoded, before sending: deleting an env var or secret file
  // named ".." from the settings page would be DELETE /api/render/services/<id>/, the service's own delete
  // once the router let a trailing slash match.
  const wes = await tenant('svc-wes');
  const svc = await createService(wes, 'wes-web');
  for (const path of [`/api/render/services/${svc.id}/`, `/api/render/services/${svc.id}/env-vars/../`, `/api/render/services/${svc.id}//`]) {
    const res = await wes.agent.delete(path);
    t.is(res.status, 404, `${path}: ${res.text}`);
  }
  t.is((await wes.render.getService(svc.id)).id, svc.id, 'still on Render');
  t.is((await wes.agent.delete(`/api/render/services/${svc.id}`)).status, 204, 'the exact path still deletes');
});

const lifecycleCalls = (id: string, deployId: string) => [
  { method: 'POST', path: `/api/render/services/${id}/redeploy`, body: {} },
  { method: 'POST', path: `/api/render/services/${id}/rollback`, body: { deploy_id: deployId } },
  { method: 'POST', path: `/api/render/services/${id}/suspend`, body: {} },
  { method: 'POST', path: `/api/render/services/${id}/resume`, body: {} },
  { method: 'DELETE', path: `/api/render/services/${id}`, body: undefined },
];

test('another user\'s service is a 404 on every lifecycle route, and nothing happens to it', async (t) => {
  const owner = await tenant('svc-owner');
  const intruder = await tenant('svc-intruder');
  const svc = await createService(owner, 'owner-web');
  const deployId = await liveDeployOf(owner, svc.id);
  const missing = `srv-${'0'.repeat(20)}`;
  for (const call of lifecycleCalls(svc.id, deployId)) {
    const res = await intruder.agent.request(call.method, call.path, { json: call.body });
    t.is(res.status, 404, `${call.method} ${call.path}`);
    t.is(res.json.error.code, 'not_found');
    const absent = await intruder.agent.request(call.method, call.path.replace(svc.id, missing), { json: call.body });
    t.is(absent.status, 404);
    t.deepEqual(absent.json, res.json, 'indistinguishable from a missing service');
  }
  const still = await owner.render.getService(svc.id);
  t.is(still.suspended, 'not_suspended');
  t.is((await intruder.agent.get('/api/render/my-deployments')).json.deployments.length, 0, 'no record was made');
});

// Found by probing the error answers: suspend, resume and delete of a service that is not the caller's
// said "Resource not found." (Render's 404, mapped generically) where the settings routes, and these
// same routes for a malformed id, say "Service not found.". One answer for all: another tenant's id
// must stay indistinguishable from a missing one.
test('suspend, resume and delete of another user\'s or a missing service say "Service not found.", as the settings routes do', async (t) => {
  const owner = await tenant('svc-word-owner');
  const intruder = await tenant('svc-word-intruder');
  const svc = await createService(owner, 'word-web');
  const missing = `srv-${'1'.repeat(20)}`;
  const malformed = 'srv-123';
  const settings = await intruder.agent.get(`/api/render/services/${svc.id}/settings`);
  t.is(settings.status, 404);
  t.deepEqual(settings.json, { error: { code: 'not_found', message: 'Service not found.' } });
  const calls = (id: string) => [
    { method: 'POST', path: `/api/render/services/${id}/suspend` },
    { method: 'POST', path: `/api/render/services/${id}/resume` },
    { method: 'DELETE', path: `/api/render/services/${id}` },
  ];
  for (const id of [svc.id, missing, malformed]) {
    for (const { method, path } of calls(id)) {
      const res = await intruder.agent.request(method, path, { json: method === 'POST' ? {} : undefined });
      t.is(res.status, 404, `${method} ${path}`);
      t.deepEqual(res.json, settings.json, `${method} ${path}: the settings routes' answer, whoever's the id`);
    }
  }
  t.is((await owner.render.getService(svc.id)).suspended, 'not_suspended', 'nothing happened to it');
});

test('malformed service ids are a 404 without a Render call', async (t) => {
  const mal = await tenant('svc-mal');
  const before = stack.render.calls.filter((c) => c.accountId === mal.account.id).length;
  for (const bad of ['srv-123', `srv-${'A'.repeat(20)}`, `dep-${'a'.repeat(20)}`, `srv-${'a'.repeat(21)}`, 'x']) {
    for (const call of lifecycleCalls(bad, `dep-${'a'.repeat(20)}`)) {
      const res = await mal.agent.request(call.method, call.path, { json: call.body });
      t.is(res.status, 404, `${call.method} ${call.path}`);
      t.is(res.json.error.code, 'not_found');
    }
  }
  t.is(stack.render.calls.filter((c) => c.accountId === mal.account.id).length, before);
});

test('lifecycle routes need the CSRF token (403) and a session (401); the list needs a key', async (t) => {
  const cara = await tenant('svc-cara');
  const svc = await createService(cara, 'cara-web');
  const deployId = await liveDeployOf(cara, svc.id);
  for (const call of lifecycleCalls(svc.id, deployId)) {
    const res = await cara.agent.request(call.method, call.path, { json: call.body, csrf: false });
    t.is(res.status, 403, `${call.method} ${call.path}`);
    t.is(res.json.error.code, 'csrf_failed');
    const anon = await stack.agent().request(call.method, call.path, { json: call.body });
    t.is(anon.status, 401);
  }
  t.is((await cara.render.getService(svc.id)).suspended, 'not_suspended');
  t.is((await cara.agent.get('/api/render/my-deployments')).json.deployments.length, 0);

  t.is((await stack.agent().get('/api/render/services')).status, 401);
  const keyless = stack.agent();
  await stack.signIn(keyless, 'svc-keyless');
  const res = await keyless.get('/api/render/services');
  t.is(res.status, 400);
  t.is(res.json.error.code, 'render_key_missing');
});

test('a revoked key on a lifecycle route is a clean 400 render_key_invalid, not a 500', async (t) => {
  const rev = await tenant('svc-revoked');
  const svc = await createService(rev, 'rev-web');
  stack.render.revokeKey(rev.apiKey);
  const res = await rev.agent.post(`/api/render/services/${svc.id}/suspend`);
  t.is(res.status, 400);
  t.is(res.json.error.code, 'render_key_invalid');
  t.false(res.text.includes(rev.apiKey));
});

// Found by reading the error map: a 402 on a lifecycle route was a render_rejected, where the settings
// routes (and a deploy's failure) say render_payment_required, the code a client acts on.
test('a 402 from Render on a lifecycle route is a 400 render_payment_required that says what to do, and nothing changes', async (t) => {
  const pay = await tenant('svc-402');
  const svc = await createService(pay, 'pay-web');
  t.is((await pay.agent.post(`/api/render/services/${svc.id}/suspend`)).status, 200);
  const rule = stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/resume', apiKey: pay.apiKey, kind: 'status', status: 402, count: 1 });
  t.teardown(() => stack.render.clearFault(rule));
  const res = await pay.agent.post(`/api/render/services/${svc.id}/resume`);
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_payment_required');
  t.regex(res.json.error.message, /payment method.*Render Dashboard/);
  t.false(res.text.includes(pay.apiKey));
  t.is((await pay.render.getService(svc.id)).suspended, 'suspended');
});

test('lookup by name: only the caller\'s services of that exact name, the latest deploy read for them alone; the cached list untouched; bad input is a 400', async (t) => {
  // CI (scripts/ci-deploy.mjs) finds its service by name: the whole list read every service's latest
  // deploy, one Render GET each, for a run that uses one service.
  const lou = await tenant('svc-lou');
  const other = await tenant('svc-lou-other');
  for (let i = 0; i < 30; i++) await createService(lou, `lou-${i}`);
  const app = await createService(lou, 'lou-app');
  await createService(lou, 'lou-app-2');
  const theirs = await createService(other, 'lou-app');
  const deployReads = () => stack.render.calls.filter((c) => c.accountId === lou.account.id && c.route === '/services/{serviceId}/deploys');
  const before = { deploys: deployReads().length, lists: listCalls(lou) };
  const res = await lou.agent.get('/api/render/services/lookup?name=Lou-App');
  t.is(res.status, 200, res.text);
  t.deepEqual(res.json.services.map((s: PresentedService) => s.id), [app.id], 'exactly the name, and never another tenant\'s');
  t.false(res.text.includes(theirs.id));
  for (const s of res.json.services) t.deepEqual(Object.keys(s).sort(), SERVICE_FIELDS);
  t.like(res.json.services[0], { name: 'lou-app', repo: 'https://github.com/acme/lou-app', branch: 'main' });
  t.is(listCalls(lou) - before.lists, 1, 'one list call, filtered by name on Render');
  const read = deployReads().slice(before.deploys);
  t.true(read.length >= 1 && read.every((c) => c.path.startsWith(`/services/${app.id}/`)), `deploy reads: ${read.map((c) => c.path).join(', ')}`);
  t.deepEqual((await lou.agent.get('/api/render/services/lookup?name=lou-none')).json, { services: [] });
  // Not the cached list: the whole list still has every service, and a lookup after it does not shrink it.
  t.is((await lou.agent.get('/api/render/services')).json.services.length, 32);
  t.is((await lou.agent.get('/api/render/services/lookup?name=lou-app')).json.services.length, 1);
  t.is((await lou.agent.get('/api/render/services')).json.services.length, 32);
  for (const q of ['', 'name=', 'name=-bad-', `name=${'a'.repeat(64)}`, 'name=a_b', 'name=ok&extra=1', 'name=a&name=b']) {
    const bad = await lou.agent.get(`/api/render/services/lookup?${q}`);
    t.is(bad.status, 400, q);
    t.is(bad.json.error.code, 'validation_failed', q);
  }
  t.is((await stack.agent().get('/api/render/services/lookup?name=lou-app')).status, 401);
});

test('name-check: free or taken in the chosen workspace, with a free suggestion; bad input is a 400', async (t) => {
  const nia = await tenant('svc-nia');
  const other = await tenant('svc-nia-other');
  await createService(nia, 'blog');
  await createService(nia, 'blog-2');
  await createService(other, 'shop');
  const taken = await nia.agent.get('/api/render/services/name-check?name=blog');
  t.is(taken.status, 200, taken.text);
  t.like(taken.json, { name: 'blog', available: false, suggestion: 'blog-3' });
  t.is(taken.json.existing.repo, 'https://github.com/acme/blog');
  const free = await nia.agent.get(`/api/render/services/name-check?name=Shop&owner_id=${nia.account.ownerId}`);
  t.like(free.json, { name: 'shop', available: true, suggestion: null, existing: null }, 'another tenant\'s names do not count');
  for (const q of ['', 'name=-bad-', `name=${'a'.repeat(64)}`, 'name=ok&owner_id=tea-00000000000000000000', 'name=ok&extra=1', 'name=a&name=b']) {
    const bad = await nia.agent.get(`/api/render/services/name-check?${q}`);
    t.is(bad.status, 400, q);
    t.is(bad.json.error.code, 'validation_failed', q);
  }
  t.is((await stack.agent().get('/api/render/services/name-check?name=blog')).status, 401);
});
