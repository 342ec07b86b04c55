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

test.serial('settings: a refused instance count puts back only what this save changed, not a change made meanwhile', async (t) => {
  const ivy = await tenant(stack, 'race-ivy');
  const svc = await createService(ivy, 'ivy-race');
  const path = `/api/render/services/${svc.id}/settings`;
  t.teardown(() => { stack.render.clearFaults(); });
  // The scale call waits (then fails) while the plan and health check are changed elsewhere.
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/scale', apiKey: ivy.apiKey, kind: 'status', status: 400, count: 1 });
  const scale = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/scale', apiKey: ivy.apiKey });
  const saving = ivy.agent.request('PATCH', path, { json: { auto_deploy: false, plan: 'standard', health_check_path: '/ready', num_instances: 4 } });
  await scale.arrived;
  // Another tab saves the plan through the orchestrator; someone on Render's dashboard sets the health check.
  const other = await ivy.agent.request('PATCH', path, { json: { plan: 'pro' } });
  t.is(other.status, 200, other.text);
  await ivy.render.updateService(svc.id, { serviceDetails: { healthCheckPath: '/live' } });
  scale.release();
  const res = await saving;
  t.is(res.status, 400, res.text);
  t.is(res.json.error.field, 'num_instances');

  const after = await ivy.render.getService(svc.id);
  t.is(after.autoDeploy, 'yes', 'this save\'s own change is put back');
  t.is(details(after).plan, 'pro', 'the other tab\'s plan stays');
  t.is(details(after).healthCheckPath, '/live', 'the change made on Render stays');
  t.is(details(after).numInstances, 1);
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

test.serial('a change of an env var or secret file waiting for its turn while the key is withdrawn (sign-out, clear, replace): answered as after it, no Render call with that key', async (t) => {
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
    for (const [sub, route, json] of [
      ['env-vars/SHARED_KEY', '/services/{serviceId}/env-vars/{envVarKey}', { value: 'second-value-123' }],
      ['secret-files/shared.pem', '/services/{serviceId}/secret-files/{secretFileName}', { content: 'second-content' }],
    ] as const) {
      const tn = await tenant(stack, `race-turn-${label}-${sub.startsWith('env') ? 'env' : 'file'}`);
      const svc = await createService(tn, `turn-${label}-${sub.startsWith('env') ? 'env' : 'file'}`);
      const path = `/api/render/services/${svc.id}/${sub}`;
      const serviceReads = () => stack.render.calls.filter((c) => c.accountId === tn.account.id && c.method === 'GET' && c.route === '/services/{serviceId}').length;
      const readsBefore = serviceReads();
      // The first change is at Render, holding the item's turn; the second has found the service and waits for the turn.
      const held = stack.render.holdRequest({ method: 'PUT', route, apiKey: tn.apiKey });
      const first = tn.agent.request('PUT', path, { json: sub.startsWith('env') ? { value: 'first-value-123' } : { content: 'first-content' } });
      await held.arrived;
      const second = tn.agent.request('PUT', path, { json });
      await waitUntil('the second change to find the service', async () => serviceReads() >= readsBefore + 2, 5_000, 10);
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
