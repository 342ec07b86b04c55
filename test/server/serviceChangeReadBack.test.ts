import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { createService, tenant } from './support/renderTenants.js';

// A change Render made, whose read-back then failed: found by probing the service routes with the
// simulator failing the read after the change. The answer said 503 "Try again in a minute" for a
// suspend, resume or settings change that had happened (and that the audit trail recorded as done),
// so a client (or an assistant over MCP) took it as not done and did it again or gave up.

let stack: Stack;
useScannedStack(test, {
  renderOptions: { rateLimits: { createService: { limit: 10_000 }, write: { limit: 10_000 } } },
}, (s) => ({ stack } = s));

/** The second GET of the service with this key fails (the route's own load is the first); `every: 1` the first GET of `route`. */
const failReadBack = (apiKey: string, route = '/services/{serviceId}', every = 2) =>
  stack.render.setFault({ method: 'GET', route, apiKey, kind: 'status', status: 503, every, count: 1 });

test.serial('suspend and resume that Render made answer 200 even when reading the service back fails', async (t) => {
  const ann = await tenant(stack, 'readback-ann');
  const svc = await createService(ann, 'ann-readback');
  t.teardown(() => { stack.render.clearFaults(); });

  failReadBack(ann.apiKey);
  const suspended = await ann.agent.post(`/api/render/services/${svc.id}/suspend`);
  t.is(suspended.status, 200, suspended.text);
  t.is((await ann.render.getService(svc.id)).suspended, 'suspended');
  t.is(suspended.json.service.id, svc.id);
  t.true(suspended.json.service.suspended);
  t.is(suspended.json.service.state, 'suspended');

  stack.render.clearFaults();
  failReadBack(ann.apiKey, '/services/{serviceId}/deploys', 1); // the route reads deploys only after the resume
  const resumed = await ann.agent.post(`/api/render/services/${svc.id}/resume`);
  t.is(resumed.status, 200, resumed.text);
  t.is((await ann.render.getService(svc.id)).suspended, 'not_suspended');
  t.false(resumed.json.service.suspended);
  t.is(resumed.json.service.state, 'unknown', 'its latest deploy could not be read');
});

test.serial('a settings change Render made answers 200 with the change even when reading the service back fails', async (t) => {
  const bea = await tenant(stack, 'readback-bea');
  const svc = await createService(bea, 'bea-readback');
  t.teardown(() => { stack.render.clearFaults(); });

  // The third GET: the route's load, the save's own read in its turn (it changes fields and scales), the read-back.
  failReadBack(bea.apiKey, '/services/{serviceId}', 3);
  const res = await bea.agent.request('PATCH', `/api/render/services/${svc.id}/settings`, { json: { auto_deploy: false, plan: 'pro', health_check_path: '/ready', previews: 'manual', num_instances: 3 } });
  t.is(res.status, 200, res.text);
  const after = await bea.render.getService(svc.id);
  const d = after.serviceDetails as { plan: string; healthCheckPath: string; numInstances: number; previews: { generation: string } };
  t.deepEqual([after.autoDeploy, d.plan, d.healthCheckPath, d.numInstances, d.previews.generation], ['no', 'pro', '/ready', 3, 'manual']);
  const s = res.json.settings;
  t.deepEqual([s.autoDeploy, s.plan, s.healthCheckPath, s.numInstances, s.previews], [false, 'pro', '/ready', 3, 'manual'], 'the answer is the change made');
  // What the answer says matches what the settings page reads once Render answers again.
  const read = await bea.agent.get(`/api/render/services/${svc.id}/settings`);
  // A save does not read the previews (null: not read); the page's read does.
  t.deepEqual([s.previewServices, s.previewServicesComplete], [null, null]);
  t.deepEqual({ ...s, previewServices: [], previewServicesComplete: true }, { ...read.json.settings, previewServices: [] });
});

// The same probe with the scale refused and the put-back of the save's other fields failing too: the
// answer said "Nothing was changed." while auto-deploy and the plan stayed changed on Render.
test.serial('a refused instance count whose put-back fails says which settings stayed changed, not "Nothing was changed"', async (t) => {
  const cy = await tenant(stack, 'readback-cy');
  const svc = await createService(cy, 'cy-readback');
  t.teardown(() => { stack.render.clearFaults(); });
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/scale', apiKey: cy.apiKey, kind: 'status', status: 400, count: 1 });
  // The save's PATCH goes through; the second PATCH (the put-back) fails.
  stack.render.setFault({ method: 'PATCH', route: '/services/{serviceId}', apiKey: cy.apiKey, kind: 'status', status: 503, every: 2, count: 1 });
  const res = await cy.agent.request('PATCH', `/api/render/services/${svc.id}/settings`, { json: { auto_deploy: false, plan: 'pro', num_instances: 3 } });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.field, 'num_instances');
  const after = await cy.render.getService(svc.id);
  t.is(after.autoDeploy, 'no', 'the put-back failed: the change stayed');
  t.notRegex(res.json.error.message, /Nothing was changed/);
  t.regex(res.json.error.message, /auto-deploy/i);
  t.regex(res.json.error.message, /instance type/i);
});

// A domain check Render accepted (202), whose read-back of the domain then failed: the answer said 503
// "Try again" and, the audit entry being written only after the read-back, the trail had no record of it.
test.serial('a domain verification Render accepted answers 200 and is audited even when reading the domain back fails', async (t) => {
  const dee = await tenant(stack, 'readback-dee');
  const svc = await createService(dee, 'dee-readback');
  const [domain] = await dee.render.addCustomDomain(svc.id, 'dee-readback.example.com');
  t.teardown(() => { stack.render.clearFaults(); });
  const VERIFY = '/services/{serviceId}/custom-domains/{customDomainIdOrName}/verify';
  const verifies = () => stack.render.calls.filter((c) => c.method === 'POST' && c.route === VERIFY).length;
  const before = verifies();

  failReadBack(dee.apiKey, '/services/{serviceId}/custom-domains/{customDomainIdOrName}', 1);
  const res = await dee.agent.post(`/api/render/services/${svc.id}/custom-domains/${domain!.id}/verify`);
  t.is(verifies() - before, 1, 'Render was asked to verify');
  t.is(res.status, 200, res.text);
  t.is(res.json.domain, null, 'its status after the check is unknown');
  const trail = await dee.agent.get('/api/audit?limit=20');
  t.true((trail.json.entries as Array<{ detail: { lifecycleAction?: string } }>).some((e) => e.detail.lifecycleAction === 'domain_verify'), 'the check made on Render is in the audit trail');

  // Render answering again, the same check answers with the domain.
  const again = await dee.agent.post(`/api/render/services/${svc.id}/custom-domains/${domain!.id}/verify`);
  t.is(again.status, 200, again.text);
  t.is(again.json.domain.id, domain!.id);
});
