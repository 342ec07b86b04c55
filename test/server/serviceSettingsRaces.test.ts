import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Service } from '../../server/render/client.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { waitUntil } from '../helpers/wait.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';

// The service settings routes when someone else changes the same service at the same time: another
// tab, another process, or a person on Render's dashboard.

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

const details = (svc: Service) => svc.serviceDetails as { plan: string; healthCheckPath: string; numInstances: number };

/** Render reads of one service (GET /services/{id}: a route's load of the service, a save's read) with the tenant's key. */
const serviceReads = (tn: Tenant) => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method === 'GET' && c.route === '/services/{serviceId}').length;

// Found by a probe: a save whose scale Render refused put its
// fields back "while they still held what it wrote", and another tab's save answered 200 in between had
// written the same value: it was put back with them, and that tab was never told. Saves now take turns.
test.serial('settings: two saves of one service take turns, so one answered 200 is not undone by another tab\'s failed save that wrote the same value', async (t) => {
  const ann = await tenant(stack, 'race-ann');
  const svc = await createService(ann, 'ann-race');
  const path = `/api/render/services/${svc.id}/settings`;
  t.teardown(() => { stack.render.clearFaults(); });
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/scale', apiKey: ann.apiKey, kind: 'status', status: 400, count: 1 });
  const scale = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/scale', apiKey: ann.apiKey });
  // Tab A: auto-deploy off, another plan and 4 instances (the scale will be refused).
  const saving = ann.agent.request('PATCH', path, { json: { auto_deploy: false, plan: 'standard', num_instances: 4 } });
  await scale.arrived;
  // Tab B: auto-deploy off, while A's scale is at Render.
  const readsBefore = serviceReads(ann);
  let answered = false;
  const other = ann.agent.request('PATCH', path, { json: { auto_deploy: false } }).then((r) => { answered = true; return r; });
  await waitUntil('tab B to find the service', async () => serviceReads(ann) > readsBefore, 5_000, 10);
  await Promise.race([other, new Promise((r) => setTimeout(r, 500))]);
  t.false(answered, 'tab B waits for tab A\'s save to end');
  scale.release();
  const res = await saving;
  t.is(res.status, 400, res.text);
  t.is(res.json.error.field, 'num_instances');
  t.regex(res.json.error.message, /Nothing was changed/);
  const b = await other;
  t.is(b.status, 200, b.text);
  t.like(b.json.settings, { autoDeploy: false, plan: 'starter' });

  const after = await ann.render.getService(svc.id);
  t.is(after.autoDeploy, 'no', 'tab B was told auto-deploy is off: it is');
  t.is(details(after).plan, 'starter', 'tab A\'s plan put back');
  t.is(details(after).numInstances, 1);
});

test.serial('settings: a refused instance count puts nothing back once the service changed on Render since this save\'s PATCH, even to the same value, and says what stayed changed', async (t) => {
  const ivy = await tenant(stack, 'race-ivy');
  const svc = await createService(ivy, 'ivy-race');
  const path = `/api/render/services/${svc.id}/settings`;
  t.teardown(() => { stack.render.clearFaults(); });
  const trail = async () => ((await ivy.agent.get('/api/audit?limit=50')).json.entries as Array<{ detail: { lifecycleAction?: string; serviceId?: string } }>)
    .filter((e) => e.detail.lifecycleAction === 'settings_update' && e.detail.serviceId === svc.id).length;
  const audited = await trail();
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/scale', apiKey: ivy.apiKey, kind: 'status', status: 400, count: 1 });
  const scale = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/scale', apiKey: ivy.apiKey });
  const saving = ivy.agent.request('PATCH', path, { json: { auto_deploy: false, plan: 'standard', num_instances: 4 } });
  await scale.arrived;
  // Someone on Render's dashboard turns auto-deploy off as well, and Render says it is off: the field
  // alone looks just as this save left it.
  await ivy.render.updateService(svc.id, { autoDeploy: 'no' });
  scale.release();
  const res = await saving;
  t.is(res.status, 400, res.text);
  t.is(res.json.error.field, 'num_instances');
  t.notRegex(res.json.error.message, /Nothing was changed/);
  t.regex(res.json.error.message, /The other settings of this save \(auto-deploy, instance type\) were changed on Render and could not be put back/);

  const after = await ivy.render.getService(svc.id);
  t.is(after.autoDeploy, 'no', 'the change made on Render stays');
  t.is(details(after).plan, 'standard', 'nothing put back: the answer said so');
  t.is(details(after).numInstances, 1);
  t.is(await trail(), audited + 1, 'recorded as the change it partly is');
});

test.serial('a service deleted on Render while a change to it is on its way: the same 404 as a missing service', async (t) => {
  const jay = await tenant(stack, 'race-jay');
  const missing = 'srv-00000000000000000000';
  const changes: Array<[string, string, string, unknown]> = [
    ['PUT', '/services/{serviceId}/env-vars/{envVarKey}', 'env-vars/NEW_KEY', { value: 'new-value-123' }],
    ['PUT', '/services/{serviceId}/secret-files/{secretFileName}', 'secret-files/new.pem', { content: 'new-content' }],
    ['POST', '/services/{serviceId}/custom-domains', 'custom-domains', { name: 'jay-race.example.com' }],
    ['PATCH', '/services/{serviceId}', 'settings', { plan: 'standard' }],
    ['GET', '/services/{serviceId}/env-vars', 'env-vars', undefined],
  ];
  for (const [method, route, sub, json] of changes) {
    const svc = await createService(jay, `jay-race-${changes.findIndex((c) => c[2] === sub)}`);
    // Held after the route has found the service, then let go once it is gone.
    const held = stack.render.holdRequest({ method, route, apiKey: jay.apiKey });
    const answer = jay.agent.request(method, `/api/render/services/${svc.id}/${sub}`, json === undefined ? {} : { json });
    await held.arrived;
    await jay.render.deleteService(svc.id);
    held.release();
    const res = await answer;
    const gone = await jay.agent.request(method, `/api/render/services/${missing}/${sub}`, json === undefined ? {} : { json });
    t.is(res.status, 404, `${method} ${sub}: ${res.text}`);
    t.deepEqual(res.json, gone.json, `${method} ${sub}: as for a service that does not exist`);
  }
});

test.serial('a service found deleted on Render by its settings page leaves the services list at once, not when the cached list expires', async (t) => {
  const kay = await tenant(stack, 'race-kay');
  const kept = await createService(kay, 'kay-kept');
  const gone = await createService(kay, 'kay-gone');
  const listed = async () => ((await kay.agent.get('/api/render/services')).json.services as Array<{ id: string }>).map((s) => s.id).sort();
  t.deepEqual(await listed(), [kept.id, gone.id].sort());
  await kay.render.deleteService(gone.id); // on the Render Dashboard: the cached list (fresh for 8 s) still has it
  const res = await kay.agent.get(`/api/render/services/${gone.id}/settings`);
  t.is(res.status, 404);
  t.deepEqual(await listed(), [kept.id], 'the list is read again once the orchestrator knows the service is gone');
});

test.serial('a service deleted on Render while a call about one of its items is on its way: the service\'s 404, not the item\'s, and it leaves the list', async (t) => {
  const lea = await tenant(stack, 'race-lea');
  const missing = 'srv-00000000000000000000';
  const listed = async () => ((await lea.agent.get('/api/render/services')).json.services as Array<{ id: string }>).map((s) => s.id);
  // Each call names an item the service has: Render's 404 for it, once the service is gone, is about the service.
  const calls: Array<[string, string, (domainId: string) => string]> = [
    ['DELETE', '/services/{serviceId}/env-vars/{envVarKey}', () => 'env-vars/OLD_KEY'],
    ['GET', '/services/{serviceId}/env-vars/{envVarKey}', () => 'env-vars/OLD_KEY'],
    ['DELETE', '/services/{serviceId}/secret-files/{secretFileName}', () => 'secret-files/old.pem'],
    ['GET', '/services/{serviceId}/secret-files/{secretFileName}', () => 'secret-files/old.pem'],
    ['POST', '/services/{serviceId}/custom-domains/{customDomainIdOrName}/verify', (d) => `custom-domains/${d}/verify`],
    ['DELETE', '/services/{serviceId}/custom-domains/{customDomainIdOrName}', (d) => `custom-domains/${d}`],
  ];
  const services = [];
  for (const i of calls.keys()) {
    const svc = await createService(lea, `lea-race-${i}`);
    await lea.render.putEnvVar(svc.id, 'OLD_KEY', 'old-value-123');
    await lea.render.putSecretFile(svc.id, 'old.pem', 'old-content');
    const [domain] = await lea.render.addCustomDomain(svc.id, `lea-race-${i}.example.com`);
    services.push({ svc, domainId: domain!.id });
  }
  for (const [i, [method, route, sub]] of calls.entries()) {
    const { svc, domainId } = services[i]!;
    t.true((await listed()).includes(svc.id), `${method} ${route}: the cached list has it`);
    // Held after the route has found the service (and read what a removal retires), let go once it is gone.
    const held = stack.render.holdRequest({ method, route, apiKey: lea.apiKey });
    const answer = lea.agent.request(method, `/api/render/services/${svc.id}/${sub(domainId)}`);
    await held.arrived;
    await lea.render.deleteService(svc.id);
    held.release();
    const res = await answer;
    t.is(res.status, 404, `${method} ${route}: ${res.text}`);
    t.false((await listed()).includes(svc.id), `${method} ${route}: the list is read again once the orchestrator knows the service is gone`);
    // Asked after the list: a 404 for a missing service drops the cached list too.
    const gone = await lea.agent.request(method, `/api/render/services/${missing}/${sub(domainId)}`);
    t.deepEqual(res.json, gone.json, `${method} ${route}: as for a service that does not exist`);
  }
});

test.serial('a change of an env var or secret file, or a settings save, waiting for its turn while the key is withdrawn (sign-out, clear, replace): answered as after it, no Render call with that key', async (t) => {
  let replaced = 0;
  const withdrawals: Array<[string, (agent: Tenant['agent']) => Promise<unknown>, number, string]> = [
    ['out', (agent) => agent.post('/api/auth/logout'), 401, 'unauthenticated'],
    ['clr', (agent) => agent.post('/api/render/clear-credentials'), 400, 'render_key_missing'],
    ['rep', (agent) => {
      const other = `rnd_raceturnreplaced${String(++replaced).padEnd(12, 'x')}`;
      stack.render.addAccount({ apiKey: other });
      return agent.post('/api/render/setup', { api_key: other });
    }, 503, 'render_unavailable'],
  ];
  for (const [label, withdraw, status, code] of withdrawals) {
    for (const [kind, sub, method, route, firstJson, json] of [
      ['env', 'env-vars/SHARED_KEY', 'PUT', '/services/{serviceId}/env-vars/{envVarKey}', { value: 'first-value-123' }, { value: 'second-value-123' }],
      ['file', 'secret-files/shared.pem', 'PUT', '/services/{serviceId}/secret-files/{secretFileName}', { content: 'first-content' }, { content: 'second-content' }],
      ['settings', 'settings', 'PATCH', '/services/{serviceId}', { auto_deploy: false }, { plan: 'standard' }],
    ] as const) {
      const tn = await tenant(stack, `race-turn-${label}-${kind}`);
      const svc = await createService(tn, `turn-${label}-${kind}`);
      const path = `/api/render/services/${svc.id}/${sub}`;
      const readsBefore = serviceReads(tn);
      // The first change is at Render, holding the item's turn; the second has found the service and waits for the turn.
      const held = stack.render.holdRequest({ method, route, apiKey: tn.apiKey });
      const first = tn.agent.request(method, path, { json: firstJson });
      await held.arrived;
      const second = tn.agent.request(method, path, { json });
      await waitUntil('the second change to find the service', async () => serviceReads(tn) >= readsBefore + 2, 5_000, 10);
      await new Promise((r) => setTimeout(r, 100));
      await withdraw(tn.agent);
      const mark = stack.render.calls.length;
      held.release();
      t.is((await first).status, 200, `${label} ${sub}: the change already at Render ends`);
      const res = await second;
      t.is(res.status, status, `${label} ${sub}: ${res.text}`);
      t.is(res.json.error.code, code);
      t.deepEqual(stack.render.calls.slice(mark).filter((c) => c.accountId === tn.account.id).map((c) => `${c.method} ${c.route}`), [], `${label} ${sub}: no Render call with the withdrawn key`);
    }
  }
});
